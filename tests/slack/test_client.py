"""The Web API client factory against the fake: 429 waits Retry-After, 5xx and timeouts are retried,
a refused token is one clear log line; and the fake's own wire format and pacing."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk.errors import SlackApiError

from handlers.slack.client import (
    SERVER_ERROR_RETRIES,
    check_token,
    make_web_client,
    post_to_response_url,
    response_url_client,
)
from handlers.slack.settings import SlackSettings
from tests.slack.fakes.slack_api import FakeSlackAPI, Fault, running_fake


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_channel("C1", "general", member=True)
        running.add_channel("C2", "random", member=True)
        yield running


def settings_for(fake: FakeSlackAPI, token: str | None = None) -> SlackSettings:
    return SlackSettings(bot_token=token or fake.token or "", signing_secret="s" * 32, api_url=fake.url)


def test_a_rate_limited_post_waits_retry_after_and_is_posted_once(fake: FakeSlackAPI) -> None:
    fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    client = make_web_client(settings_for(fake), backoff_seconds=0.01)
    assert client.chat_postMessage(channel="C1", text="Hei")["ok"]
    limited, posted = fake.calls("chat.postMessage")
    assert (limited.status, posted.status) == (429, 200)
    assert posted.at - limited.at >= 1.0  # Retry-After honoured
    assert [m["text"] for m in fake.messages("C1")] == ["Hei"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(fake: FakeSlackAPI, status: int) -> None:
    fake.server_error("views.publish", times=2, status=status)
    client = make_web_client(settings_for(fake), backoff_seconds=0.01)
    assert client.views_publish(user_id="U1", view={"type": "home", "blocks": []})["ok"]
    assert [c.status for c in fake.calls("views.publish")] == [status, status, 200]
    assert len(fake.homes("U1")) == 1


def test_retries_end_in_a_clear_error(fake: FakeSlackAPI) -> None:
    fake.server_error("users.info", times=10)
    client = make_web_client(settings_for(fake), backoff_seconds=0.001)
    with pytest.raises(SlackApiError):
        client.users_info(user="U1")
    assert len(fake.calls("users.info")) == 1 + SERVER_ERROR_RETRIES


def test_a_slow_answer_times_out_and_is_retried(fake: FakeSlackAPI) -> None:
    fake.add_user("U1", "Kari Nordmann")
    fake.slow("users.info", 1.5)
    client = make_web_client(settings_for(fake), timeout=1, backoff_seconds=0.01)
    assert client.users_info(user="U1")["user"]["real_name"] == "Kari Nordmann"
    # The slow first attempt is recorded when the fake finally answers it, after the retry.
    assert len(fake.wait_for(lambda: fake.calls("users.info")[1:])) == 1


def test_a_refused_token_is_one_clear_log_line(fake: FakeSlackAPI, caplog: pytest.LogCaptureFixture) -> None:
    client = make_web_client(settings_for(fake, token="xoxb-revoked"))
    assert check_token(client) is False
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "invalid_auth" in line.getMessage() and "SLACK_BOT_TOKEN" in line.getMessage()
    assert line.exc_info is None
    assert check_token(make_web_client(settings_for(fake))) is True


def test_an_unreachable_api_is_one_clear_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = SlackSettings(
        bot_token="xoxb-x", signing_secret="s" * 32, api_url=f"http://127.0.0.1:{port}/api/"
    )
    assert check_token(make_web_client(settings, backoff_seconds=0.001)) is False
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "SLACK_API_URL" in line.getMessage()


def test_a_response_url_answer_that_may_have_arrived_is_not_sent_again(
    fake: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    url = fake.response_url("r1")
    fake.fail("response_url:r1", Fault(status=500, applied=True))  # shown, but the answer was lost
    assert not post_to_response_url(url, {"text": "Hei"}, backoff_seconds=0.01)
    assert fake.responses("r1") == [{"text": "Hei"}]  # once, not once per retry
    assert [c.status for c in fake.calls("response_url:r1")] == [500]
    fake.slow("response_url:r1", 1.5)  # no answer in time: it may have arrived too
    assert not post_to_response_url(url, {"text": "Igjen"}, timeout=1, backoff_seconds=0.01)
    assert len(fake.wait_for(lambda: fake.calls("response_url:r1")[1:])) == 1
    assert fake.responses("r1") == [{"text": "Hei"}, {"text": "Igjen"}]
    lines = [r for r in caplog.records if r.name == "handlers.slack.client"]
    assert len(lines) == 2 and all("not sent again" in r.getMessage() for r in lines)


def test_a_response_url_takes_five_answers_within_30_minutes(fake: FakeSlackAPI) -> None:
    url = fake.response_url("r1")
    assert all(post_to_response_url(url, {"text": str(n)}) for n in range(5))
    assert not post_to_response_url(url, {"text": "sixth"})
    assert (fake.calls("response_url:r1")[-1].status, fake.calls("response_url:r1")[-1].error) == (
        404,
        "used_url",
    )
    late = fake.response_url("r2")
    fake.advance(30 * 60 + 1)
    assert not post_to_response_url(late, {"text": "late"})
    assert fake.calls("response_url:r2")[-1].error == "expired_url"
    assert len(fake.responses("r1")) == 5 and fake.responses("r2") == []


def test_the_fake_records_when_each_taken_answer_arrived(fake: FakeSlackAPI) -> None:
    heard: list[tuple[str, float]] = []
    fake.on_response = lambda key, at: heard.append((key, at))
    url = fake.response_url("r1")
    before = time.time()
    assert all(post_to_response_url(url, {"text": str(n)}) for n in range(5))
    assert not post_to_response_url(url, {"text": "sixth"})  # refused: not an arrival
    after = time.time()
    times = fake.response_arrivals()["r1"]
    assert len(times) == 5 and times == sorted(times) and before <= times[0] and times[-1] <= after
    assert heard == [("r1", at) for at in times]


def test_answers_share_kept_alive_connections(fake: FakeSlackAPI) -> None:
    urls = [fake.response_url(f"r{n}") for n in range(5)]
    with response_url_client() as http:
        assert all(post_to_response_url(url, {"text": "Hei"}, http=http) for url in urls)
    assert fake.connections == 1
    assert [len(fake.responses(f"r{n}")) for n in range(5)] == [1] * 5


def test_an_unreachable_response_url_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port nobody listens on (tried again: nothing was sent)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/response/r1"
    assert not post_to_response_url(url, {"text": "Hei"}, backoff_seconds=0.001)
    [line] = [r for r in caplog.records if r.name == "handlers.slack.client"]
    assert "unreachable" in line.getMessage()


def test_response_url_answers_survive_a_rate_limit(fake: FakeSlackAPI) -> None:
    url = fake.response_url("r1")
    fake.rate_limit("response_url:r1", times=1, retry_after=1)
    assert post_to_response_url(url, {"text": "Hei"}, backoff_seconds=0.01)
    assert fake.responses("r1") == [{"text": "Hei"}]


def test_the_fake_checks_tokens_and_takes_form_and_json_bodies(fake: FakeSlackAPI) -> None:
    api = fake.url
    no_token = httpx.post(api + "chat.postMessage", data={"channel": "C1", "text": "x"}).json()
    assert no_token == {"ok": False, "error": "not_authed"}
    bad = httpx.post(api + "auth.test", headers={"Authorization": "Bearer xoxb-wrong"}).json()
    assert bad["error"] == "invalid_auth"
    form = httpx.post(
        api + "chat.postMessage",
        data={"token": fake.token, "channel": "C1", "text": "form", "blocks": '[{"type": "divider"}]'},
    ).json()
    assert form["ok"] and form["message"]["blocks"] == [{"type": "divider"}]
    auth = {"Authorization": f"Bearer {fake.token}"}
    as_json = httpx.post(
        api + "chat.postMessage", json={"channel": "C1", "text": "json"}, headers=auth
    ).json()
    assert as_json["ok"]
    history = httpx.post(api + "conversations.history", data={"channel": "C1"}, headers=auth).json()
    assert [m["text"] for m in history["messages"]] == ["json", "form"]
    updated = httpx.post(
        api + "chat.update", json={"channel": "C1", "ts": form["ts"], "text": "edited"}, headers=auth
    ).json()
    assert updated["ok"] and [m["text"] for m in fake.messages("C1")] == ["edited", "json"]
    refused = httpx.post(
        api + "chat.postMessage", json={"channel": "C1", "blocks": [{"type": "bogus"}]}, headers=auth
    ).json()
    assert refused["error"] == "invalid_blocks"


def test_the_fake_paces_posts_per_channel_and_the_client_keeps_up(fake: FakeSlackAPI) -> None:
    fake.workspace.pace_per_second = 1.0
    client = make_web_client(settings_for(fake), backoff_seconds=0.01)
    for text in ("one", "two"):
        client.chat_postMessage(channel="C1", text=text)
    client.chat_postMessage(channel="C2", text="elsewhere")
    assert [m["text"] for m in fake.messages("C1")] == ["one", "two"]
    statuses = [c.status for c in fake.calls("chat.postMessage")]
    assert statuses == [200, 429, 200, 200]


def test_the_fake_keeps_ephemeral_messages_and_updates_modals(fake: FakeSlackAPI) -> None:
    client = make_web_client(settings_for(fake), backoff_seconds=0.01)
    assert client.chat_postEphemeral(channel="C1", user="U1", text="bare til deg")["ok"]
    assert fake.workspace.ephemeral[0]["text"] == "bare til deg"
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Ny økt"}, "blocks": []}
    opened = client.views_open(trigger_id=fake.issue_trigger("1.2.3"), view=modal)["view"]
    changed = {**modal, "title": {"type": "plain_text", "text": "Lagret"}}
    assert client.views_update(view_id=opened["id"], view=changed)["ok"]
    assert [m["title"]["text"] for m in fake.modals()] == ["Lagret"]
    too_long = {**modal, "title": {"type": "plain_text", "text": "En altfor lang tittel på et skjema"}}
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_open(trigger_id=fake.issue_trigger("1.2.4"), view=too_long)
