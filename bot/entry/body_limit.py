"""A request body is counted while it arrives, and refused with 413 once it passes the limit.

Every route of the one web server gets its body from here: read in full (at most `limit` bytes, the
largest any route takes: Slack's and Graph's 1 MB), before the route runs. A larger body, declared
by Content-Length or sent chunked, is answered 413 as soon as the limit is passed; the route never
sees it, and the server holds at most `limit` bytes of it (uvicorn discards the rest as it comes).
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1_000_000


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.limit:
            await _too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nobody to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        del chunks
        given = False

        async def replay() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)


def _declared_length(scope: Scope) -> int:
    """The Content-Length header's value; 0 without one (uvicorn refuses a malformed one)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value) if len(value) < 19 else 2**63  # no int() of a thousand digits
    return 0


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("request body too large", status_code=413)(scope, receive, send)
