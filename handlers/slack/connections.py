"""Kept-alive connections for response_url answers and Web API calls (handlers/slack/web_api.py),
on the standard library's http.client.

An answer is one small POST, sent by a few threads at once during a burst of clicks. httpx spent
0.7 ms of CPU on each (1.4-1.7 ms in a busy worker, a tenth of a command); http.client does the same
in a fraction (a chat.postMessage to the Slack fake over TLS: 520-800 µs with httpx, 160-350 µs
here). What httpx gave is kept: TLS verified with httpx's own context (certifi, or
`SSL_CERT_FILE` / `SSL_CERT_DIR` when set, as every other client of the bot), a timeout on the
connection and on every read, no proxy (the httpx client here had its own transport, which reads
none), and connections kept alive and shared by the threads, one per request under way.

Each failure says whether the request may have gone out: `NotSent` (no connection: nothing did),
`NoAnswer` (it may have arrived). A kept-alive connection the server closed while it was idle is
found before it is used (its socket is readable) and replaced, so it never costs an answer.
"""

from __future__ import annotations

import select
import socket
import ssl
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from types import TracebackType
from urllib.parse import urlsplit

from bot.tls import client_tls

KEPT_PER_HOST = 8  # idle connections kept per host: one per answering thread (handlers/slack/answering.py)
HEADERS = {"Content-Type": "application/json;charset=utf-8", "User-Agent": "baerekraft-bot"}

Host = tuple[str, str, int]  # scheme, host, port


class NotSent(Exception):
    """No connection was made (refused, unreachable, TLS refused, or no time to connect): nothing
    of the request went out."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause
        # Worth trying again: refused or unreachable now (not a URL that cannot work, nor a server
        # that took the whole timeout to not answer).
        self.transient = isinstance(cause, OSError) and not isinstance(cause, TimeoutError)
        super().__init__(type(cause).__name__)


class NoAnswer(Exception):
    """The request may have gone out, but no complete answer came (a timeout, a dropped connection)."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause
        super().__init__(type(cause).__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    text: str


class KeptConnections:
    """Kept-alive connections to the hosts of response_urls (or of the Web API), safe to share
    between threads."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self._context = context
        self._idle: dict[Host, list[HTTPConnection]] = {}
        self._lock = threading.Lock()

    def post(
        self, url: str, content: bytes, *, timeout: float, headers: Mapping[str, str] = HEADERS
    ) -> Answer:
        """POST `content` to `url` with `headers` (by default: JSON); the answer, or NotSent /
        NoAnswer."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NotSent(ValueError(f"not an http(s) URL: {parts.scheme}"))
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise NotSent(exc) from exc
        host: Host = (parts.scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._take(host, timeout) or self._connect(host, timeout)
        try:
            conn.request("POST", target, body=content, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, HTTPException) as exc:
            conn.close()
            raise NoAnswer(exc) from exc
        answer = Answer(response.status, response.getheader("Retry-After"), text)
        if response.will_close or conn.sock is None:
            conn.close()
        else:
            self._give_back(host, conn)
        return answer

    def close(self) -> None:
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    def __enter__(self) -> KeptConnections:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- the pool -----------------------------------------------------------------------------------

    def _take(self, host: Host, timeout: float) -> HTTPConnection | None:
        """An idle connection to `host` the server has not closed, set to `timeout`; None if none."""
        while True:
            with self._lock:
                idle = self._idle.get(host)
                conn = idle.pop() if idle else None
            if conn is None:
                return None
            if conn.sock is not None and not _readable(conn.sock):
                conn.sock.settimeout(timeout)
                return conn
            conn.close()  # closed by the server while idle (or it sent what nobody asked for)

    def _connect(self, host: Host, timeout: float) -> HTTPConnection:
        scheme, name, port = host
        conn: HTTPConnection
        if scheme == "https":
            conn = HTTPSConnection(name, port, timeout=timeout, context=self._tls())
        else:
            conn = HTTPConnection(name, port, timeout=timeout)
        try:
            conn.connect()
        except OSError as exc:  # refused, unreachable, a name not found, TLS refused, a timeout
            conn.close()
            raise NotSent(exc) from exc
        return conn

    def _give_back(self, host: Host, conn: HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(host, [])
            if len(idle) < KEPT_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def _tls(self) -> ssl.SSLContext:
        """httpx's context, shared with the bot's other clients (bot/tls.py; made on first use)."""
        with self._lock:
            if self._context is None:
                self._context = client_tls()
            return self._context


def _readable(sock: socket.socket) -> bool:
    """Whether an idle socket has something to read: for a kept-alive connection, that the server
    closed it (as httpcore checks before reusing one)."""
    if sys.platform == "win32" or not hasattr(select, "poll"):  # pragma: no cover
        ready, _, _ = select.select([sock], [], [], 0)
        return bool(ready)
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    return bool(poll.poll(0))
