"""A small Slack Web API caller on kept-alive HTTP connections: for the delivery engine, and for the
inbound work's users.info and views.publish (which must not wait out a 429 either).

slack_sdk's WebClient (urllib) opens a new connection for every call: against slack.com a TCP and TLS
handshake per message, so one sender cannot even reach Slack's pace. This caller keeps its
connections (handlers/slack/connections.py: http.client connections shared by the threads, a
third of httpx's CPU a call, which was a tenth of a direct message's) and speaks WebClient's wire format:
a POST to `<SLACK_API_URL><method>` with the bot token as a Bearer header, chat.postMessage,
chat.update and views.publish as a JSON body, other methods as a form with booleans as 1/0. It never
retries: the caller decides what a failure means (for the engine a 429 holds back every process and
a lost answer is checked before posting again; App Home and users.info have budgets of their own).
TLS is verified with httpx's context, trusting `SSL_CERT_FILE` or `SSL_CERT_DIR` when set, as
handlers/microsoft365 does (bot/tls.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urljoin

from slack_sdk.web.internal_utils import get_user_agent

from bot.tls import client_tls
from handlers.slack.connections import KeptConnections, NoAnswer, NotSent

JSON_METHODS = frozenset({"chat.postMessage", "chat.update", "views.publish"})
JSON = "application/json;charset=utf-8"
FORM = "application/x-www-form-urlencoded"


class SlackCallFailed(Exception):
    """Slack answered, but not with HTTP 200 and `ok: true`."""

    def __init__(self, method: str, status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        self.method, self.status, self.body, self.headers = method, status, body, headers
        self.error = str(body.get("error") or f"HTTP {status}")
        super().__init__(f"Slack {method}: {self.error}")

    @property
    def retry_after(self) -> float:
        """Retry-After in seconds (1 when it is missing or not a number)."""
        try:
            return float(self.headers.get("retry-after", "1"))
        except ValueError:
            return 1.0


class SlackUnreachable(Exception):
    """No answer from Slack. `sent`: the request may have arrived (a timeout or a dropped connection
    after it was written); False when no connection was made, so nothing went out."""

    def __init__(self, method: str, cause: BaseException, *, sent: bool) -> None:
        self.method, self.cause, self.sent = method, cause, sent
        self.reason = type(cause).__name__
        super().__init__(f"Slack {method} unreachable ({self.reason}: {cause})")


class SlackWebAPI:
    def __init__(self, base_url: str, token: str, *, timeout: float) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self._headers = {
            kind: {"Authorization": f"Bearer {token}", "User-Agent": get_user_agent(), "Content-Type": kind}
            for kind in (JSON, FORM)
        }
        self._http = KeptConnections(client_tls())  # the bundle named now (bot/tls.py)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One Web API call; the answer's body. Raises SlackCallFailed for a refusal, and
        SlackUnreachable when no answer came."""
        values = {k: v for k, v in params.items() if v is not None}
        if method in JSON_METHODS:
            content, kind = json.dumps(values).encode(), JSON
        else:
            content, kind = urlencode({k: _form_value(v) for k, v in values.items()}).encode(), FORM
        try:
            answer = self._http.post(
                urljoin(self.base_url, method), content, timeout=self.timeout, headers=self._headers[kind]
            )
        except NotSent as exc:
            raise SlackUnreachable(method, exc.cause, sent=False) from exc
        except NoAnswer as exc:
            raise SlackUnreachable(method, exc.cause, sent=True) from exc
        body = _body(answer.text)
        if answer.status != 200 or not body.get("ok"):
            headers = {"retry-after": answer.retry_after} if answer.retry_after is not None else {}
            raise SlackCallFailed(method, answer.status, body, headers)
        return body

    def post_message(self, channel: str, **fields: Any) -> dict[str, Any]:
        return self.call("chat.postMessage", {"channel": channel, **fields})

    def update_message(self, channel: str, ts: str, **fields: Any) -> dict[str, Any]:
        return self.call("chat.update", {"channel": channel, "ts": ts, **fields})

    def open_conversation(self, users: str) -> dict[str, Any]:
        return self.call("conversations.open", {"users": users})

    def history(self, channel: str, *, limit: int, include_all_metadata: bool = False) -> dict[str, Any]:
        return self.call(
            "conversations.history",
            {"channel": channel, "include_all_metadata": include_all_metadata, "limit": limit},
        )

    def replies(
        self, channel: str, ts: str, *, limit: int, include_all_metadata: bool = False
    ) -> dict[str, Any]:
        return self.call(
            "conversations.replies",
            {"channel": channel, "ts": ts, "include_all_metadata": include_all_metadata, "limit": limit},
        )


def _form_value(value: Any) -> Any:
    return ("1" if value else "0") if isinstance(value, bool) else value


def _body(text: str) -> dict[str, Any]:
    """The answer as JSON, or `ok: false` with what came instead (a proxy's error page, say)."""
    try:
        body = json.loads(text)
    except ValueError:
        return {"ok": False, "error": f"not JSON: {text[:100]!r}"}
    return body if isinstance(body, dict) else {"ok": False, "error": "not a JSON object"}
