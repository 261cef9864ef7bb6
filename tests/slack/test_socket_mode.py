"""Socket Mode (SLACK_APP_TOKEN set): no HTTP route; `start` connects through apps.connections.open
to a WebSocket, carries commands over it, and `stop` closes it cleanly. A failed connection or a
dropped one is tried again with backoff while /healthz says so; a refused app token is one clear log
line and slow retries, not a crash or a hot loop."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.entry.composition import App, build
from bot.entry.server import create_web_app
from handlers.slack.channel import SlackChannel
from handlers.slack.settings import SlackSettings
from tests.conftest import inbox_worker
from tests.slack.fakes.slack_api import FakeSlackAPI, running_fake
from tests.slack.fakes.slack_bot import KARI, add_people, eventually, sqlite_only
from tests.slack.fakes.slack_platform import SIGNING_SECRET, SlackPlatform
from tests.slack.fakes.slack_socket import FakeSocketMode, running_socket_mode
from tests.web.support import TestClient

APP_TOKEN = "xapp-1-A0BOT-fake"


HEALTH_TOKEN = "operator-health-token-0123"


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        add_people(running)
        yield running


@pytest.fixture
def app(fake: FakeSlackAPI, sqlite_template: Path, tmp_path: Path, clock: ManualClock) -> Iterator[App]:
    """The bot in Socket Mode (on SQLite only: what is tested here is the connection)."""
    slack = SlackSettings(fake.token or "", SIGNING_SECRET, app_token=APP_TOKEN, api_url=fake.url)
    settings = replace(sqlite_only(sqlite_template, tmp_path), slack=slack, health_token=HEALTH_TOKEN)
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


def test_a_refused_app_token_is_logged_once_and_tried_again_slowly(
    app: App, fake: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    slack = slack_of(app)
    slack.socket_backoff_seconds = 0.001  # a 503 would be tried again at once; a refused token is not
    slack.start()  # the fake has no socket URL: apps.connections.open answers invalid_auth
    connection = slack.socket
    assert connection is not None
    try:
        eventually(lambda: slack.health() == "reconnecting (invalid_auth)")
        assert healthz(app)["status"] == "degraded"
        assert healthz(app)["channels"]["slack"] == "reconnecting (invalid_auth)"
        assert len(fake.calls("apps.connections.open")) == 1  # waiting the longest pause, not looping
        assert connection.thread.is_alive()
    finally:
        connection.stop()
    assert not connection.thread.is_alive()  # the pause ends when the bot stops
    ours = [r for r in caplog.records if r.name.startswith("handlers.slack") and r.levelno >= logging.WARNING]
    assert (
        len(ours) == 1
        and "invalid_auth" in ours[0].getMessage()
        and "SLACK_APP_TOKEN" in ours[0].getMessage()
    )
    assert not any(r.exc_info for r in caplog.records)


def test_a_failing_first_connection_is_tried_again_until_it_works(app: App, fake: FakeSlackAPI) -> None:
    slack = slack_of(app)
    slack.socket_backoff_seconds = 0.01
    fake.server_error("apps.connections.open", times=4, status=503)
    gate = fake.hold("apps.connections.open")  # the fifth attempt waits: /healthz can be read meanwhile
    with running_socket_mode() as socket_mode, inbox_worker(app):
        fake.socket_url = socket_mode.url
        slack.start()
        connection = slack.socket
        assert connection is not None
        try:
            fake.wait_for(lambda: fake.calls("apps.connections.open")[3:])
            assert slack.health() == "reconnecting (HTTP 503)"
            assert healthz(app)["status"] == "degraded"
            gate.set()
            socket_mode.wait_connected()
            eventually(lambda: slack.health() == "on")
            assert healthz(app)["status"] == "ok"
            assert [c.status for c in fake.calls("apps.connections.open")] == [503, 503, 503, 503, 200]
            assert_carries_a_command(fake, socket_mode)
        finally:
            gate.set()
            connection.stop()


def test_a_dropped_connection_is_made_again(app: App, fake: FakeSlackAPI) -> None:
    slack = slack_of(app)
    slack.socket_backoff_seconds = 0.01
    with running_socket_mode() as socket_mode, inbox_worker(app):
        fake.socket_url = socket_mode.url
        slack.start()
        connection = slack.socket
        assert connection is not None
        try:
            socket_mode.wait_connected()
            fake.server_error("apps.connections.open", times=2, status=503)
            socket_mode.drop()
            socket_mode.wait_connections(2)
            eventually(lambda: slack.health() == "on")
            assert [c.status for c in fake.calls("apps.connections.open")] == [200, 503, 503, 200]
            assert_carries_a_command(fake, socket_mode)
        finally:
            connection.stop()
        assert socket_mode.wait_closed()


def assert_carries_a_command(fake: FakeSlackAPI, socket_mode: FakeSocketMode) -> None:
    fields, key = SlackPlatform("unused", fake).command_fields("meld på", KARI)
    envelope = socket_mode.send("slash_commands", fields)
    assert socket_mode.ack(envelope)["envelope_id"] == envelope
    assert "påmeldt" in fake.wait_for(lambda: fake.responses(key))[0]["text"]


def healthz(app: App) -> dict[str, Any]:
    """The operator's report (the public answer says only whether the bot is alive)."""
    with TestClient(create_web_app(app)) as client:
        answer = client.get("/healthz", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
        body: dict[str, Any] = answer.json()
    return body
