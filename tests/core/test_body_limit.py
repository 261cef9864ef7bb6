"""Request bodies are counted while they arrive: past 1 MB the answer is 413 at once, whether the size
was declared or the body comes chunked, and no route ever sees it. Through the real web server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message

from bot.clock import ManualClock
from bot.entry.body_limit import MAX_BODY, BodyLimit
from bot.entry.composition import build
from bot.entry.server import WebServer, create_web_app
from bot.entry.settings import BotSettings

CHUNK = 64 * 1024


@dataclass
class Probe:
    """A route that records every body it was given."""

    bodies: list[int] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.bodies.append(len(body))
        return PlainTextResponse(f"got {len(body)}")


@pytest.fixture
def served(settings: BotSettings, clock: ManualClock) -> Iterator[tuple[str, Probe]]:
    app = build(settings, clock=clock, migrate=False)
    probe = Probe()
    server = WebServer(
        create_web_app(app, [Route("/probe", probe.endpoint, methods=["POST"])]), "127.0.0.1", 0
    )
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", probe
    finally:
        server.stop()
        app.close()


def chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = b"x" * min(CHUNK, total - sent)
        sent += len(piece)
        yield piece


def test_a_chunked_body_of_several_megabytes_gets_413_and_the_route_never_sees_it(
    served: tuple[str, Probe],
) -> None:
    base, probe = served
    with httpx.Client(timeout=30) as client:
        answer = client.post(f"{base}/probe", content=chunks(8 * 1024 * 1024))
        assert answer.status_code == 413
        assert probe.bodies == []
        # The connection goes on serving: the rest of the body was discarded as it came.
        assert client.post(f"{base}/probe", content=b"small").text == "got 5"


def test_a_declared_length_past_the_limit_gets_413_before_any_body_is_sent(served: tuple[str, Probe]) -> None:
    base, probe = served
    address = urlsplit(base)
    with socket.create_connection((address.hostname or "", address.port or 0), timeout=10) as conn:
        conn.sendall(
            b"POST /probe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 300000000\r\n\r\n"
        )
        head = conn.recv(4096)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert probe.bodies == []


@pytest.mark.parametrize("size", [0, 1, MAX_BODY])
def test_a_body_within_the_limit_reaches_the_route_whole(served: tuple[str, Probe], size: int) -> None:
    base, probe = served
    declared = httpx.post(f"{base}/probe", content=b"y" * size, timeout=30)
    chunked = httpx.post(f"{base}/probe", content=chunks(size), timeout=30)
    assert declared.text == chunked.text == f"got {size}"
    assert probe.bodies == [size, size]


def test_one_byte_over_the_limit_is_refused_chunked_or_declared(served: tuple[str, Probe]) -> None:
    base, probe = served
    assert httpx.post(f"{base}/probe", content=b"y" * (MAX_BODY + 1), timeout=30).status_code == 413
    assert httpx.post(f"{base}/probe", content=chunks(MAX_BODY + 1), timeout=30).status_code == 413
    assert probe.bodies == []


def test_reading_stops_as_soon_as_the_limit_is_passed() -> None:
    """The limit bounds what is held: an endless body is read only to just past the limit."""
    consumed = 0
    answered: list[Message] = []

    async def endless() -> Message:
        nonlocal consumed
        consumed += CHUNK
        return {"type": "http.request", "body": b"z" * CHUNK, "more_body": True}

    async def send(message: Message) -> None:
        answered.append(message)

    async def never(_scope: object, _receive: object, _send: object) -> None:
        raise AssertionError("the app was called")

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    asyncio.run(BodyLimit(never)(scope, endless, send))  # type: ignore[arg-type]
    assert answered[0]["status"] == 413
    assert consumed <= MAX_BODY + CHUNK
