"""Socket Mode (SLACK_APP_TOKEN set): no HTTP route; `start` connects through apps.connections.open
to a WebSocket, carries commands over it, and `stop` closes it cleanly. A refused app token is a
clear log line, not a crash."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.entry.composition import App, build
from handlers.slack.channel import SlackChannel
from handlers.slack.settings import SlackSettings
from tests.slack.fakes.slack_api import FakeSlackAPI, running_fake
from tests.slack.fakes.slack_bot import KARI, add_people, inbox_worker, sqlite_only
from tests.slack.fakes.slack_platform import SIGNING_SECRET, SlackPlatform
from tests.slack.fakes.slack_socket import running_socket_mode

APP_TOKEN = "xapp-1-A0BOT-fake"


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        add_people(running)
        yield running


@pytest.fixture
def app(fake: FakeSlackAPI, sqlite_template: Path, tmp_path: Path, clock: ManualClock) -> Iterator[App]:
    """The bot in Socket Mode (on SQLite only: what is tested here is the connection)."""
    slack = SlackSettings(fake.token or "", SIGNING_SECRET, app_token=APP_TOKEN, api_url=fake.url)
    settings = replace(sqlite_only(sqlite_template, tmp_path), slack=slack)
    bot = build(settings, clock=clock, migrate=False)
    yield bot
    bot.close()


def slack_of(app: App) -> SlackChannel:
    channel = app.channel(SlackChannel)
    assert channel is not None
    return channel


def test_socket_mode_carries_a_slash_command_and_stops_cleanly(app: App, fake: FakeSlackAPI) -> None:
    slack = slack_of(app)
    assert slack.routes() == []  # no Request URL: nothing to mount on the web server
    with running_socket_mode() as socket_mode, inbox_worker(app):
        fake.socket_url = socket_mode.url
        slack.start()
        connection = slack.socket
        assert connection is not None
        try:
            socket_mode.wait_connected()
            [opened] = fake.calls("apps.connections.open")
            assert opened.error is None
            fields, key = SlackPlatform("unused", fake).command_fields("meld på", KARI)
            envelope = socket_mode.send("slash_commands", fields)
            assert socket_mode.ack(envelope)["envelope_id"] == envelope
            reply = fake.wait_for(lambda: fake.responses(key))[0]
            assert "Du er nå påmeldt Bærekraftsfredag" in reply["text"]
        finally:
            connection.stop()
        assert socket_mode.wait_closed()
        assert not connection.thread.is_alive()


def test_a_refused_app_token_is_logged_and_the_bot_goes_on(
    app: App, fake: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    slack = slack_of(app)
    slack.start()  # the fake has no socket URL: apps.connections.open refuses
    connection = slack.socket
    assert connection is not None
    connection.thread.join(timeout=10)
    connection.stop()
    ours = [
        r
        for r in caplog.records
        if r.name.startswith("handlers.slack") and "SLACK_APP_TOKEN" in r.getMessage()
    ]
    assert len(ours) == 1 and "invalid_auth" in ours[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
