"""A small Slack Web API caller on kept-alive HTTP connections: for the delivery engine, and for the
inbound work's users.info and views.publish (which must not wait out a 429 either).

slack_sdk's WebClient (urllib) opens a new connection for every call: against slack.com a TCP and TLS
handshake per message, so one sender cannot even reach Slack's pace. This caller keeps its
connections (one `httpx.Client`, safe to share between threads) and speaks WebClient's wire format:
a POST to `<SLACK_API_URL><method>` with the bot token as a Bearer header, chat.postMessage,
chat.update and views.publish as a JSON body, other methods as a form with booleans as 1/0. It never
retries: the caller decides what a failure means (for the engine a 429 holds back every process and
a lost answer is checked before posting again; App Home and users.info have budgets of their own).
TLS is verified by httpx, trusting `SSL_CERT_FILE` or `SSL_CERT_DIR` when set, as handlers/microsoft365 does.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
from slack_sdk.web.internal_utils import get_user_agent

from bot.tls import client_tls

JSON_METHODS = frozenset({"chat.postMessage", "chat.update", "views.publish"})
# httpx writes a request's headers and body separately; without Nagle's delay the body follows at once
# (urllib sent both in one write, urllib3 sets the same option).
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


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


class SlackWebAPI:
    def __init__(self, base_url: str, token: str, *, timeout: float) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        tls = client_tls()
        self._http = httpx.Client(
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": get_user_agent()},
            verify=tls,
            transport=httpx.HTTPTransport(verify=tls, socket_options=NO_DELAY),
        )

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One Web API call; the answer's body. Raises SlackCallFailed for a refusal, and httpx's
        RequestError (ConnectError: nothing was sent) when no answer came."""
        values = {k: v for k, v in params.items() if v is not None}
        if method in JSON_METHODS:
            content = json.dumps(values).encode()
            kind = "application/json;charset=utf-8"
        else:
            content = urlencode({k: _form_value(v) for k, v in values.items()}).encode()
            kind = "application/x-www-form-urlencoded"
        response = self._http.post(
            urljoin(self.base_url, method), content=content, headers={"Content-Type": kind}
        )
        body = _body(response)
        if response.status_code != 200 or not body.get("ok"):
            raise SlackCallFailed(method, response.status_code, body, response.headers)
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


def _body(response: httpx.Response) -> dict[str, Any]:
    """The answer as JSON, or `ok: false` with what came instead (a proxy's error page, say)."""
    try:
        body = response.json()
    except ValueError:
        return {"ok": False, "error": f"not JSON: {response.text[:100]!r}"}
    return body if isinstance(body, dict) else {"ok": False, "error": "not a JSON object"}
