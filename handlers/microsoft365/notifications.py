"""`POST /graph/notifications`: Graph's change and lifecycle notifications.

The validation request (`?validationToken=…`) is echoed at once as text/plain. A notification whose
`clientState` is not ours is ignored. The rest are queued and answered 202 straight away (Graph wants
an answer within 3 s); a worker thread fetches the messages (one `$batch`) and records the commands
in the inbox.
"""

from __future__ import annotations

import hmac
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.error_policy import ErrorPolicy
from bot.json_input import parse_json

log = logging.getLogger(__name__)

PATH = "/graph/notifications"
MAX_BODY = 1_000_000
Handler = Callable[[list[dict[str, Any]]], None]


def client_state(secret_key: str) -> str:
    """The shared secret Graph echoes in every notification, derived from SECRET_KEY."""
    return hmac.new(secret_key.encode(), b"graph notifications v1", "sha256").hexdigest()[:64]


class NotificationInbox:
    def __init__(self, secret: str, on_changes: Handler, on_lifecycle: Handler, errors: ErrorPolicy) -> None:
        self.secret, self.errors = secret, errors
        self.on_changes, self.on_lifecycle = on_changes, on_lifecycle
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ignored = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def route(self) -> Route:
        return Route(PATH, self.endpoint, methods=["POST"])

    async def endpoint(self, request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            return PlainTextResponse(token, headers={"X-Content-Type-Options": "nosniff"})
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        try:
            items = parse_json(body).get("value", [])
        except (ValueError, AttributeError):  # not JSON, nested too deeply, or not an object
            return Response(status_code=400)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and hmac.compare_digest(
                str(item.get("clientState") or ""), self.secret
            ):
                self.queue.put(item)
            else:
                self.ignored += 1
                if (
                    self.ignored == 1 or self.ignored % 100 == 0
                ):  # a flood of forgeries is not a flood of logs
                    log.warning(
                        "Graph notification with a wrong clientState: ignored (%s so far)", self.ignored
                    )
        return Response(status_code=202)

    def process_pending(self, first: dict[str, Any] | None = None) -> int:
        """Handle everything queued now (the worker's step; tests call it directly)."""
        items = [first] if first is not None else []
        while True:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        lifecycle = [i for i in items if i.get("lifecycleEvent")]
        changes = [i for i in items if not i.get("lifecycleEvent")]
        for handler, chosen in ((self.on_lifecycle, lifecycle), (self.on_changes, changes)):
            if chosen:
                with self.errors.guard("graph notifications", items=len(chosen)):
                    handler(chosen)
        return len(items)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="graph-notifications", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self.process_pending(first)
