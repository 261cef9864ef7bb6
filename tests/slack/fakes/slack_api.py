"""A fake Slack Web API: a real HTTP server on 127.0.0.1 (port 0) that speaks Slack's wire format.

Point the bot at it with `SLACK_API_URL=fake.url`. It takes form or JSON bodies (and GET query
strings), checks the Bearer token (`invalid_auth` otherwise) and the scopes it was granted
(`missing_scope`; by default the manifest's bot scopes), records every call, keeps the workspace's
conversations with the bot's membership and the messages posted in each (thread replies apart),
published App Home views, opened modals and what arrives at `response_url`s (with the wall-clock time
each answer arrived, `response_arrivals`), and validates blocks
against Slack's limits. Faults on demand: 429 with Retry-After, 5xx, a slow or held answer, an
`ok: false` error; optional per-channel pacing of chat.postMessage (429 when exceeded).
Slack's deadlines: a trigger id opens one view within 3 s of the user's action (`issue_trigger`); a
response_url takes 5 answers within 30 minutes, then answers 404 `used_url` / `expired_url`.
The workspace's own troubles, as long as they last: the token revoked (every call answers
`token_revoked` or `invalid_auth` with HTTP 200, as Slack does), a scope removed (`missing_scope`
naming it), a channel archived (`is_archived` for posts to it); each can be restored.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from tests.slack.fakes.slack_methods import (
    METHODS,
    Conversation,
    Workspace,
    missing_scope,
    needed_scope,
    view_answered,
)
from tests.slack.fakes.slack_scopes import PRIVATE, PUBLIC, manifest_bot_scopes
from tests.slack.fakes.slack_tiers import METHOD_TIERS, MethodLimits, Tier

T = TypeVar("T")
BOT_TOKEN = "xoxb-fake-bot-token"
JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
HOLD_LIMIT = 30.0
RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60


@dataclass(frozen=True)
class Call:
    """One request as the fake saw it, and what it answered."""

    method: str
    params: dict[str, Any]
    status: int
    error: str | None
    at: float  # time.monotonic() when answered


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: int | None = None
    text: str | None = None  # a plain-text body instead of JSON (a response_url's 404)


@dataclass
class Fault:
    """What to do instead of (or before) answering normally."""

    status: int = 200
    error: str | None = None
    retry_after: int = 1
    delay: float = 0.0
    hold: threading.Event | None = None
    # Carry out the request first, then answer with the fault: the reply was lost, the work was not.
    applied: bool = False


FLAKY = (Fault(status=429, retry_after=2), Fault(status=500), Fault(status=500, applied=True))


class FakeSlackAPI:
    def __init__(
        self,
        token: str = BOT_TOKEN,
        scopes: Iterable[str] | None = None,
        *,
        tiers: Mapping[str, Tier] = METHOD_TIERS,
        tier_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token: str | None = token  # the bot token it accepts; anything else is invalid_auth
        self.socket_url: str | None = None  # answer of apps.connections.open (see slack_socket.py)
        # The bot token's scopes: by default what handlers/slack/manifest.yml asks for.
        self.workspace = Workspace(
            frozenset(scopes) if scopes is not None else manifest_bot_scopes(), clock=clock
        )
        self.revoked: str | None = None  # the error every call with the token meets (revoke_token)
        self.limits = MethodLimits(tiers, tier_scale)  # per-method rate limits (Slack's tiers)
        self._calls: list[Call] = []
        self.connections = 0  # TCP connections accepted (a kept-alive client opens one)
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._flaky: dict[str, tuple[float, random.Random, tuple[Fault, ...]]] = {}
        self._responses: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._response_urls: dict[str, tuple[float, int]] = {}  # key → (issued at, uses)
        self._response_times: dict[str, list[float]] = defaultdict(list)  # key → time.time() of each
        # Told of each answer taken at a response_url (key, time.time() it arrived), in the server's thread.
        self.on_response: Callable[[str, float], None] | None = None
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )

    # --- lifecycle and addresses ------------------------------------------------------------------

    def start(self) -> FakeSlackAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        for queue in self._faults.values():
            for fault in queue:
                if fault.hold is not None:
                    fault.hold.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The Web API base URL, for SLACK_API_URL."""
        return f"{self.base}/api/"

    def response_url(self, key: str) -> str:
        """The response_url Slack gives with an interaction, issued now (its 30 minutes start)."""
        with self._changed:
            self._response_urls.setdefault(key, (self.workspace.now(), 0))
        return f"{self.base}/response/{key}"

    def issue_trigger(self, trigger_id: str) -> str:
        """A trigger id given to the bot with a user's action, now (its 3 seconds start)."""
        with self._changed:
            self.workspace.triggers[trigger_id] = self.workspace.now()
        return trigger_id

    def advance(self, seconds: float) -> None:
        """Time passes at Slack: trigger ids and response_urls age by `seconds`."""
        with self._changed:
            self.workspace.skew += seconds

    def view_answered(self, view_id: str, answer: dict[str, Any]) -> None:
        """Apply a view_submission's answer to the open view, as Slack does (see slack_platform)."""
        with self._changed:
            view_answered(self.workspace, view_id, answer)
            self._changed.notify_all()

    # --- set-up -----------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        email: str | None = None,
        locale: str = "nb-NO",
        tz: str = "Europe/Oslo",
        is_bot: bool = False,
    ) -> None:
        profile = {"real_name": name, "display_name": name.split()[0], **({"email": email} if email else {})}
        self.workspace.users[user_id] = {
            "id": user_id,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "tz": tz,
            "locale": locale,
            "is_bot": is_bot,
            "deleted": False,
            "profile": profile,
        }

    def deactivate(self, user_id: str, deleted: bool = True) -> dict[str, Any]:
        """An admin deactivates (or, with `deleted=False`, reactivates) a user; their user object,
        as the `user_change` event carries it."""
        with self._changed:
            user = self.workspace.users[user_id]
            user["deleted"] = deleted
            return copy.deepcopy(user)

    def add_channel(
        self, channel_id: str, name: str | None = None, *, private: bool = False, member: bool = False
    ) -> None:
        """A public (or private) channel; `member`: the bot is in it (for a private one: invited)."""
        kind = PRIVATE if private else PUBLIC
        with self._changed:
            self.workspace.conversations[channel_id] = Conversation(
                channel_id, kind, name or channel_id.lower(), bot_member=member
            )

    def invite_bot(self, channel_id: str) -> None:
        """Someone adds the bot to the channel (`/invite @baerekraft`)."""
        with self._changed:
            self.workspace.conversations[channel_id].bot_member = True

    def is_member(self, channel_id: str) -> bool:
        with self._changed:
            return self.workspace.conversations[channel_id].bot_member

    def grant(self, *scopes: str) -> None:
        """The app is reinstalled with these scopes as well."""
        with self._changed:
            self.workspace.scopes = self.workspace.scopes | set(scopes)

    def revoke(self, *scopes: str) -> None:
        """The app is reinstalled without these scopes."""
        with self._changed:
            self.workspace.scopes = self.workspace.scopes - set(scopes)

    def fail(self, method: str, fault: Fault, times: int = 1) -> None:
        """The next `times` calls of `method` (or `response_url`) meet `fault`."""
        with self._changed:
            self._faults[method].extend(Fault(**vars(fault)) for _ in range(times))

    def flaky(self, method: str, rate: float, seed: int = 5, faults: tuple[Fault, ...] | None = None) -> None:
        """From now on a share `rate` of `method`'s calls, drawn at random, meet one of `faults`
        (default: 429, a 500 before acting, and a 500 after acting — the answer lost, the post made)."""
        self._flaky[method] = (rate, random.Random(seed), faults or FLAKY)

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        self.fail(method, Fault(status=429, retry_after=retry_after), times)

    def server_error(self, method: str, times: int = 1, status: int = 500) -> None:
        self.fail(method, Fault(status=status), times)

    def slow(self, method: str, seconds: float, times: int = 1) -> None:
        self.fail(method, Fault(delay=seconds), times)

    def hold(self, method: str) -> threading.Event:
        """The next call of `method` waits until the returned event is set."""
        gate = threading.Event()
        self.fail(method, Fault(hold=gate))
        return gate

    def revoke_token(self, error: str = "token_revoked") -> None:
        """From now on every call with the bot token answers `error` (`token_revoked`, `invalid_auth`,
        `account_inactive`), HTTP 200 with `ok: false`, until `restore_token`."""
        with self._changed:
            self.revoked = error

    def restore_token(self) -> None:
        with self._changed:
            self.revoked = None

    def remove_scope(self, scope: str) -> None:
        """The app loses `scope`: the methods that need it answer `missing_scope` until `restore_scope`."""
        self.revoke(scope)

    def restore_scope(self, scope: str) -> None:
        self.grant(scope)

    def archive(self, channel: str) -> None:
        """Posts to `channel` answer `is_archived` until `unarchive`."""
        with self._changed:
            self.workspace.archived.add(channel)

    def unarchive(self, channel: str) -> None:
        with self._changed:
            self.workspace.archived.discard(channel)

    # --- what happened ----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._changed:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The messages in a conversation, by its id or, for the bot's DM with a user, the user's id."""
        with self._changed:
            conversation = self.workspace.dms.get(channel, channel)
            return list(self.workspace.messages.get(conversation, []))

    def dm(self, user_id: str) -> str | None:
        """The id of the bot's DM with `user_id`, if it was opened."""
        with self._changed:
            return self.workspace.dms.get(user_id)

    def posted(self) -> dict[str, list[dict[str, Any]]]:
        """Every conversation with messages: channels by their id, DMs by the user's id."""
        with self._changed:
            users = {dm: user for user, dm in self.workspace.dms.items()}
            return {users.get(c, c): list(m) for c, m in self.workspace.messages.items() if m}

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies in the thread of the post `ts` (not the post itself); a DM by the user's id."""
        with self._changed:
            conversation = self.workspace.dms.get(channel, channel)
            return list(self.workspace.replies.get((conversation, ts), []))

    def replies_posted(self) -> dict[str, list[dict[str, Any]]]:
        """Every thread reply, by conversation as `posted` names it."""
        with self._changed:
            users = {dm: user for user, dm in self.workspace.dms.items()}
            found: dict[str, list[dict[str, Any]]] = {}
            for (conversation, _), replies in self.workspace.replies.items():
                found.setdefault(users.get(conversation, conversation), []).extend(replies)
            return found

    def homes(self, user_id: str) -> list[dict[str, Any]]:
        with self._changed:
            return list(self.workspace.homes.get(user_id, []))

    def modals(self) -> list[dict[str, Any]]:
        with self._changed:
            return list(self.workspace.modals.values())

    def responses(self, key: str) -> list[dict[str, Any]]:
        with self._changed:
            return list(self._responses.get(key, []))

    def response_arrivals(self) -> dict[str, list[float]]:
        """When (time.time()) each answer taken at each response_url arrived, by key."""
        with self._changed:
            return {key: list(times) for key, times in self._response_times.items()}

    def wait_for(self, found: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Wait (woken by each request, no polling sleep) until `found()` returns something."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = found()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fake Slack: nothing came within {timeout} s")
                self._changed.wait(left)

    # --- answering --------------------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any], token: str | None) -> Answer:
        """Slack's answer to one request: faults first, then the token, then the method itself."""
        with self._changed:
            queue = self._faults.get(method)
            fault = queue.popleft() if queue else None
            if fault is None and method in self._flaky:
                rate, draw, choices = self._flaky[method]
                if draw.random() < rate:
                    fault = draw.choice(choices)
        if fault is not None and fault.hold is not None:
            fault.hold.wait(HOLD_LIMIT)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.applied:
            self._normal(method, params, token)
        if fault is not None and fault.status != 200:
            error = "ratelimited" if fault.status == 429 else "internal_error"
            return self._record(
                method, params, Answer(fault.status, {"ok": False, "error": error}, fault.retry_after)
            )
        if fault is not None and fault.error:
            return self._record(method, params, Answer(200, {"ok": False, "error": fault.error}))
        return self._record(method, params, self._normal(method, params, token))

    def _normal(self, method: str, params: dict[str, Any], token: str | None) -> Answer:
        if method.startswith("response_url:"):
            return self._respond(method.split(":", 1)[1], params)
        if method == "apps.connections.open":
            if token and token.startswith("xapp-") and self.socket_url:
                return Answer(200, {"ok": True, "url": self.socket_url})
            return Answer(200, {"ok": False, "error": "invalid_auth"})
        if not token:
            return Answer(200, {"ok": False, "error": "not_authed"})
        if token != self.token:
            return Answer(200, {"ok": False, "error": "invalid_auth"})
        handler = METHODS.get(method)
        if handler is None:
            return Answer(200, {"ok": False, "error": "unknown_method"})
        with self._changed:
            if self.revoked:
                return Answer(200, {"ok": False, "error": self.revoked})
            limited = self.limits.over(method, self.workspace.now())
            if limited is not None:
                return Answer(429, {"ok": False, "error": "ratelimited"}, limited)
            needed = needed_scope(self.workspace, method, params)
            body = missing_scope(self.workspace, needed) if needed else handler(self.workspace, params)
        if body.get("error") == "ratelimited":  # pacing exceeded
            return Answer(429, body, 1)
        return Answer(200, body)

    def _respond(self, key: str, params: dict[str, Any]) -> Answer:
        """A response_url: 5 answers within 30 minutes of the interaction, then 404 with Slack's
        plain-text error; an unknown one is 404 too."""
        arrived = time.time()
        with self._changed:
            issued = self._response_urls.get(key)
            if issued is None:
                return Answer(404, {"ok": False, "error": "invalid_url"}, text="invalid_url")
            issued_at, uses = issued
            if self.workspace.now() - issued_at > RESPONSE_URL_SECONDS:
                return Answer(404, {"ok": False, "error": "expired_url"}, text="expired_url")
            if uses >= RESPONSE_URL_USES:
                return Answer(404, {"ok": False, "error": "used_url"}, text="used_url")
            self._response_urls[key] = (issued_at, uses + 1)
            self._responses[key].append(params)
            self._response_times[key].append(arrived)
        if self.on_response is not None:
            self.on_response(key, arrived)
        return Answer(200, {"ok": True}, text="ok")

    def _record(self, method: str, params: dict[str, Any], answer: Answer) -> Answer:
        with self._changed:
            error = None if answer.body.get("ok", True) else str(answer.body.get("error"))
            self._calls.append(Call(method, params, answer.status, error, time.monotonic()))
            self._changed.notify_all()
        return answer


# --- HTTP -------------------------------------------------------------------------------------------


def _params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if "application/json" in content_type and body:
        params.update(json.loads(body))
    elif body:
        params.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
    for name in JSON_FIELDS:
        if isinstance(params.get(name), str):
            params[name] = json.loads(params[name])
    return params


def _handler_for(fake: FakeSlackAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, a kept-alive client would wait for its
        # own delayed ACK (40 ms) before the body came. Real front ends send a small answer at once.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with fake._changed:
                fake.connections += 1

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:  # users.info and friends can come as GET with a query string
            self._serve(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._serve(self.rfile.read(length))

        def _serve(self, body: bytes) -> None:
            parts = urlsplit(self.path)
            params = _params(parts.query, body, self.headers.get("Content-Type", ""))
            if parts.path.startswith("/response/"):
                method = "response_url:" + parts.path.removeprefix("/response/")
            elif parts.path.startswith("/api/"):
                method = parts.path.removeprefix("/api/")
            else:
                self._send(404, {"ok": False, "error": "not_found"}, None)
                return
            form_token = params.pop("token", None)
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else form_token
            answer = fake.answer(method, params, token)
            retry_after = answer.retry_after if answer.status == 429 else None
            self._send(answer.status, answer.body, retry_after, answer.text)

        def _send(
            self, status: int, body: dict[str, Any], retry_after: int | None, text: str | None = None
        ) -> None:
            plain = text is not None or status >= 500
            data = (text or "upstream error").encode() if plain else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if plain else "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def running_fake(**kwargs: Any) -> Iterator[FakeSlackAPI]:
    fake = FakeSlackAPI(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
