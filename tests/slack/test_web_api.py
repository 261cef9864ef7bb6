"""The delivery engine's Slack caller: WebClient's wire format, over one kept-alive connection, with TLS
trusted the standard way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from handlers.slack.client import make_web_client, sending_client
from handlers.slack.settings import SlackSettings
from handlers.slack.web_api import SlackCallFailed, SlackUnreachable
from tests.fakes.https_fake import HttpsFake, Request, Response, local_ca
from tests.slack.fakes.slack_api import BOT_TOKEN, FakeSlackAPI, Fault, running_fake

POST: dict[str, Any] = {
    "text": "*Bærekraftsfredag* 9. mars",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Velkommen – «alle»"}}],
    "unfurl_links": False,
    "unfurl_media": False,
    "metadata": {"event_type": "baerekraft_delivery", "event_payload": {"key": "s1:invitation|slack|U1"}},
}


class Recorder(HttpsFake):
    """Slack over HTTPS that keeps every request as it arrived and answers ok."""

    name = "slack-recorder"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(200, {"ok": True, "channel": {"id": "D1"}, "ts": "1.000100", "messages": []})


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    for name, value in local_ca().environ().items():
        monkeypatch.setenv(name, value)
    fake = Recorder().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_channel("C1", "general", member=True)
        yield running


def _settings(url: str, token: str = BOT_TOKEN) -> SlackSettings:
    return SlackSettings(token, "signing-secret", None, None, url)


def _body(request: Request) -> Any:
    kind = request.headers["content-type"]
    return json.loads(request.body) if kind.startswith("application/json") else request.body


def test_the_caller_sends_what_webclient_sends(recorder: Recorder) -> None:
    settings = _settings(recorder.url + "/api/")
    sdk = WebClient(token=settings.bot_token, base_url=settings.api_url, retry_handlers=[])
    sdk.chat_postMessage(channel="U1", **POST)
    sdk.conversations_open(users="U1")
    sdk.conversations_history(channel="D1", limit=200, include_all_metadata=True)
    caller = sending_client(settings)
    caller.post_message("U1", **POST)
    caller.open_conversation("U1")
    caller.history("D1", limit=200, include_all_metadata=True)
    theirs, ours = recorder.requests[:3], recorder.requests[3:]
    assert [r.path for r in ours] == [
        "/api/chat.postMessage",
        "/api/conversations.open",
        "/api/conversations.history",
    ]
    for sdk_request, request in zip(theirs, ours, strict=True):
        assert (request.method, request.path, request.query) == (
            sdk_request.method,
            sdk_request.path,
            sdk_request.query,
        )
        for header in ("authorization", "content-type", "user-agent"):
            assert request.headers[header] == sdk_request.headers[header]
        assert _body(request) == _body(sdk_request)
    assert ours[2].body == b"channel=D1&include_all_metadata=1&limit=200"


def test_without_the_ca_bundle_the_certificate_is_refused(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    caller = sending_client(_settings(recorder.url + "/api/"))
    with pytest.raises(SlackUnreachable, match="CERTIFICATE_VERIFY_FAILED") as refused:
        caller.post_message("U1", text="Hei")
    assert refused.value.sent is False  # no connection: nothing went out
    assert recorder.requests == []


def test_posts_reuse_one_connection(fake: FakeSlackAPI) -> None:
    caller = sending_client(_settings(fake.url))
    for i in range(5):
        caller.post_message(f"U{i}", text="Hei")
    assert fake.connections == 1
    sdk = make_web_client(_settings(fake.url))  # slack_sdk: a connection per call
    for i in range(3):
        sdk.chat_postMessage(channel=f"U{i}", text="Hei")
    assert fake.connections == 1 + 3
    assert len(fake.calls("chat.postMessage")) == 8


def test_a_refusal_carries_slacks_error_status_and_retry_after(fake: FakeSlackAPI) -> None:
    caller = sending_client(_settings(fake.url))
    fake.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackCallFailed) as limited:
        caller.post_message("C1", text="Hei")
    assert (limited.value.status, limited.value.error, limited.value.retry_after) == (429, "ratelimited", 7.0)
    fake.fail("chat.postMessage", Fault(status=502))
    with pytest.raises(SlackCallFailed) as broken:
        caller.post_message("C1", text="Hei")
    assert broken.value.status == 502 and broken.value.error.startswith("not JSON")
    with pytest.raises(SlackCallFailed) as refused:
        sending_client(_settings(fake.url, token="xoxb-revoked")).post_message("C1", text="Hei")
    assert (refused.value.status, refused.value.error) == (200, "invalid_auth")
    assert caller.post_message("C1", text="Hei")["ok"]  # the connection survives the refusals
    assert fake.connections == 2  # the caller's one, and the revoked token's caller
