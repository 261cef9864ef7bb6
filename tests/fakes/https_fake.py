"""A real HTTPS server on 127.0.0.1 (port 0) for fakes of web APIs: each request is read in full and
handed to `handle`, which answers with a status, headers and a JSON, text or bytes body.

Its certificate comes from a test CA (trustme). The product trusts it only the standard way:
`SSL_CERT_FILE` (httpx) and `REQUESTS_CA_BUNDLE` (msal/requests) name the CA's bundle, exactly as an
operator would point at a company CA.
"""

from __future__ import annotations

import atexit
import json
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

import trustme


class LocalCA:
    def __init__(self) -> None:
        self.ca = trustme.CA()
        self._cert = self.ca.issue_cert("127.0.0.1", "localhost")
        folder = Path(tempfile.mkdtemp(prefix="fake-ca-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # one per test process
        self.bundle = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.bundle))

    @property
    def server_pem(self) -> Path:
        """The server's key and certificate chain in one PEM file (for uvicorn's ssl_certfile)."""
        path = self.bundle.with_name("server.pem")
        if not path.exists():
            self._cert.private_key_and_cert_chain_pem.write_to_path(str(path))
        return path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

    def environ(self) -> dict[str, str]:
        """The variables that make a process (msal and httpx) trust this CA."""
        return {"SSL_CERT_FILE": str(self.bundle), "REQUESTS_CA_BUNDLE": str(self.bundle)}


@cache
def local_ca() -> LocalCA:
    """One CA per test run, shared by every fake."""
    return LocalCA()


@dataclass
class Request:
    method: str
    path: str  # unquoted, without the query
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization") or ""
        return value[7:] if value.lower().startswith("bearer ") else None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON, str → text/plain, bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow server, a client timeout)


def error(status: int, code: str, message: str = "", **headers: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message or code}}, dict(headers))


def parse_target(target: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(target)
    return unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True))


class HttpsFake:
    """Subclasses implement `handle`; `url` is https://127.0.0.1:<port>."""

    name = "fake"

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.socket = local_ca().server_context().wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, request: Request) -> Response:
        raise NotImplementedError


def _handler_for(fake: HttpsFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, query = parse_target(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = fake.handle(Request(self.command, path, query, headers, body))
            if answer.delay:
                time.sleep(answer.delay)
            if isinstance(answer.body, bytes):
                payload, kind = answer.body, "application/octet-stream"
            elif isinstance(answer.body, str):
                payload, kind = answer.body.encode(), "text/plain; charset=utf-8"
            elif answer.body is None:
                payload, kind = b"", ""
            else:
                payload, kind = json.dumps(answer.body).encode(), "application/json"
            try:
                self.send_response(answer.status)
                if kind:
                    self.send_header("Content-Type", kind)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
