"""The HTTP clients share one TLS context per CA bundle, chosen by SSL_CERT_FILE as httpx chooses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from bot.tls import client_tls
from handlers.slack.web_api import SlackUnreachable, SlackWebAPI
from tests.fakes.https_fake import HttpsFake, Request, Response, local_ca


class Hello(HttpsFake):
    def handle(self, request: Request) -> Response:
        return Response(200, {"ok": True})


@pytest.fixture
def server() -> Iterator[Hello]:
    fake = Hello().start()
    yield fake
    fake.stop()


def test_clients_built_with_the_same_bundle_share_its_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(local_ca().bundle))
    assert client_tls() is client_tls()


def test_the_bundle_named_when_a_client_is_built_is_the_one_it_trusts(
    server: Hello, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(local_ca().bundle))
    trusting = SlackWebAPI(server.url, "xoxb-test", timeout=5.0)
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    distrusting = SlackWebAPI(server.url, "xoxb-test", timeout=5.0)
    try:
        assert trusting.call("auth.test", {})["ok"] is True
        with pytest.raises(SlackUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            distrusting.call("auth.test", {})
    finally:
        trusting.close()
        distrusting.close()
