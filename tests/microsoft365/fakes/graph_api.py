"""A fake Microsoft Graph (v1.0) over real HTTPS: bearer tokens checked against the fake identity
provider (audience, expiry, application vs delegated permissions), `$batch`, and faults on demand
(429 with Retry-After, 503, a slow answer, an answer lost after the work was done).

Point the bot at it with `GRAPH_API_URL=graph.base`. The endpoints live in `graph_exchange.py`
(calendar, mail, users), `graph_teams.py` (channel, chats, delta, activity feed) and `graph_meetings.py`
(online meetings' options); subscriptions and
the notifications sent back to the bot in `graph_notifier.py`. The world is `graph.tenant`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.https_fake import HttpsFake, Request, Response, error, parse_target
from tests.microsoft365.fakes.graph_exchange import exchange_routes
from tests.microsoft365.fakes.graph_mailbox import mailbox_routes
from tests.microsoft365.fakes.graph_meetings import Meetings, meeting_routes
from tests.microsoft365.fakes.graph_notifier import Notifier
from tests.microsoft365.fakes.graph_teams import teams_routes
from tests.microsoft365.fakes.graph_tenant import Tenant
from tests.microsoft365.fakes.identity_provider import FakeIdentityProvider, TokenInfo

TEAM_ID = "team-0001"
CHANNEL_ID = "19:network@thread.tacv2"
ORGANISER = "baerekraft@ks.example"


@dataclass
class Call:
    """A request the fake Graph answered (inner batch requests too)."""

    method: str
    path: str
    status: int
    token: str  # "app", "user" or "none"
    inner: bool = False
    body: Any = None


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int = 429
    retry_after: int | None = 1
    times: int = 1
    delay: float = 0.0
    after: bool = False  # do the work first, then answer with the fault (outcome in doubt)
    inner_only: bool = False


@dataclass
class Handled:
    """What a route handler gets: the request, its path groups and the caller's token."""

    request: Request
    groups: tuple[str, ...]
    token: TokenInfo

    def json(self) -> Any:
        return self.request.json()


Handler = Callable[[Handled], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    app: str | None = None  # the application permission it needs (None: app-only not allowed)
    user: str | None = None  # the delegated permission it needs (None: delegated not allowed)


class FakeGraph(HttpsFake):
    name = "fake-graph"

    def __init__(self, idp: FakeIdentityProvider) -> None:
        super().__init__()
        self.idp = idp
        self.page_size = 2
        self.inbox_oldest_delta = 0  # inbox delta tokens older than this have expired
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.tenant = Tenant(TEAM_ID, CHANNEL_ID, ORGANISER)
        self.notifier = Notifier(self)
        self.meetings = Meetings(self)
        self.routes: list[Route] = [
            *exchange_routes(self),
            *teams_routes(self),
            *self.notifier.routes(),
            *meeting_routes(self),
            *mailbox_routes(self),
        ]
        self._lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"{self.url}/v1.0"

    def fail(self, method: str, path: str, **options: Any) -> Fault:
        """Answer requests matching `path` (a regex, searched) with a fault, `times` times."""
        fault = Fault(method, re.compile(path), **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def count(self, method: str, path: str, *, successful_only: bool = True) -> int:
        with self._lock:
            return sum(
                1
                for c in self.calls
                if c.method == method and re.search(path, c.path) and (not successful_only or c.status < 300)
            )

    def handle(self, request: Request) -> Response:
        if not request.path.startswith("/v1.0/"):
            return error(404, "BadRequest", "unknown API version")
        return self.dispatch(request, request.path[len("/v1.0") :], inner=False)

    def dispatch(self, request: Request, path: str, *, inner: bool) -> Response:
        info = self.idp.token_info(request.bearer)
        if info is None or info.audience != self.url:
            return self._record(request, path, "none", inner, error(401, "InvalidAuthenticationToken"))
        fault = self._fault(request.method, path, inner)
        if fault is not None and not fault.after:
            return self._record(request, path, info.kind, inner, self._fault_response(fault))
        if path == "/$batch" and request.method == "POST":
            answer = self._batch(request)
        else:
            answer = self._route(request, path, info)
        if fault is not None:
            answer = self._fault_response(fault)
        return self._record(request, path, info.kind, inner, answer)

    def _route(self, request: Request, path: str, info: TokenInfo) -> Response:
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match is None or route.method != request.method:
                continue
            needed = route.app if info.kind == "app" else route.user
            if needed is None:
                return error(403, "Forbidden", f"{info.kind} tokens are not supported for this API")
            if needed not in info.permissions:
                return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            return route.handler(Handled(request, match.groups(), info))
        return error(404, "ResourceNotFound", f"no route for {request.method} {path}")

    def _batch(self, request: Request) -> Response:
        requests = request.json().get("requests", [])
        if len(requests) > 20:
            return error(400, "BadRequest", "at most 20 requests in a batch")
        answers = []
        for inner in requests:
            inner_path, query = parse_target("/" + str(inner["url"]).lstrip("/"))
            body = inner.get("body")
            raw = b"" if body is None else json.dumps(body).encode()
            sub = Request(inner["method"], inner_path, query, request.headers, raw)
            answer = self.dispatch(sub, inner_path, inner=True)
            answers.append(
                {"id": inner["id"], "status": answer.status, "headers": answer.headers, "body": answer.body}
            )
        return Response(200, {"responses": answers})

    def _fault(self, method: str, path: str, inner: bool) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path.search(path):
                    if fault.inner_only and not inner:
                        continue
                    fault.times -= 1
                    return fault
        return None

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        codes = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
        answer = error(fault.status, codes.get(fault.status, "Fault"), "injected fault", **headers)
        answer.delay = fault.delay
        return answer

    def _record(self, request: Request, path: str, kind: str, inner: bool, answer: Response) -> Response:
        body: Any = None
        if "json" in request.headers.get("content-type", "") and request.body:
            body = request.json()
        with self._lock:
            self.calls.append(Call(request.method, path, answer.status, kind, inner, body))
        return answer
