"""response_url answers on kept-alive http.client connections: TLS trusted the standard way, and a
connection the server closed, while idle or after its answer, never costs an answer nor sends one twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from handlers.slack.client import post_to_response_url, response_url_client
from tests.fakes.https_fake import HttpsFake, Request, Response, local_ca


class Hooks(HttpsFake):
    """Slack's hooks over HTTPS: each answer is kept as it arrived; `closing` answers with
    `Connection: close` (as a front end does when it sheds a connection)."""

    name = "slack-hooks"

    def __init__(self, *, closing: bool = False) -> None:
        super().__init__()
        self.closing = closing
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(200, "ok", {"Connection": "close"} if self.closing else {})


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in local_ca().environ().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def hooks(trusted: None) -> Iterator[Hooks]:
    fake = Hooks().start()
    yield fake
    fake.stop()


def test_answers_go_over_tls_trusted_through_ssl_cert_file(hooks: Hooks) -> None:
    with response_url_client() as http:
        for n in range(3):
            assert post_to_response_url(f"{hooks.url}/commands/T1/{n}/x", {"text": f"Hei {n}"}, http=http)
    assert [r.path for r in hooks.requests] == [f"/commands/T1/{n}/x" for n in range(3)]
    assert [r.json() for r in hooks.requests] == [{"text": f"Hei {n}"} for n in range(3)]
    assert {r.headers["content-type"] for r in hooks.requests} == {"application/json;charset=utf-8"}


def test_without_the_ca_bundle_the_certificate_is_refused_and_nothing_arrives(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    assert not post_to_response_url(f"{hooks.url}/commands/T1/1/x", {"text": "Hei"}, backoff_seconds=0.001)
    assert hooks.requests == []
    [line] = [r for r in caplog.records if r.name == "handlers.slack.client"]
    assert "unreachable" in line.getMessage() and "SSLCertVerificationError" in line.getMessage()


def test_a_connection_closed_after_its_answer_is_not_used_again(trusted: None) -> None:
    fake = Hooks(closing=True).start()
    try:
        with response_url_client() as http:
            for n in range(3):
                assert post_to_response_url(f"{fake.url}/r/{n}", {"text": "Hei"}, http=http)
        assert [r.path for r in fake.requests] == ["/r/0", "/r/1", "/r/2"]
    finally:
        fake.stop()


class IdleClosing(ThreadingHTTPServer):
    """Plain HTTP that answers one request per connection without saying so, then closes it (a
    server's keep-alive timeout passing while the client's connection is idle)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.connections = 0
        self.closed = threading.Semaphore(0)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                server.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.close_connection = True  # silently: no `Connection: close` was sent

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self) -> Any:
        self.connections += 1
        return super().get_request()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.release()


def test_a_kept_alive_connection_the_server_closed_while_idle_is_replaced() -> None:
    server = IdleClosing()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/r/"
    try:
        with response_url_client() as http:
            for n in range(3):
                assert post_to_response_url(url + str(n), {"text": str(n)}, http=http, backoff_seconds=0.001)
                assert server.closed.acquire(timeout=10)  # the server closed the kept-alive connection
        assert server.bodies == [b'{"text": "0"}', b'{"text": "1"}', b'{"text": "2"}']  # each once
        assert server.connections == 3
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_that_is_no_http_url_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    assert not post_to_response_url("ftp://hooks.slack.com/x", {"text": "Hei"}, backoff_seconds=0.001)
    [line] = [r for r in caplog.records if r.name == "handlers.slack.client"]
    assert "unreachable (ValueError)" in line.getMessage()
