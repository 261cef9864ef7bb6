"""`/metrics` as Prometheus reads it: the outbox, the inbox and the channels, counted in the database;
readable with the token, or from this machine only when no token is set."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import ManualClock
from bot.delivery.channels import CREDENTIALS, ChannelUnavailable, OutgoingMessage, RetryLater
from bot.entry.composition import App, build
from bot.entry.server import create_web_app
from bot.entry.settings import BotSettings
from tests.conftest import ORGANISER, person
from tests.fakes.recording_sender import RecordingSender
from tests.slack.fakes.slack_bot import serve
from tests.web.support import TestClient

Say = Callable[..., str]


@pytest.fixture
def site(app: App) -> Iterator[str]:
    with serve(create_web_app(app)) as base:
        yield base


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_outbox_and_the_inbox_are_counted(app: App, clock: ManualClock, say: Say, site: str) -> None:
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    say(person("a@kommune.no"), "meld på")
    say(person("b@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-09 09:00 Målt")
    app.delivery.run_until_idle()
    app.inbox.accept("test", "x", "k1", {})
    answer = httpx.get(f"{site}/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    sent = found[("baerekraft_deliveries", (("channel", "fake"), ("kind", "invitation"), ("state", "sent")))]
    assert sent == len(sender.sent) >= 2
    assert found[("baerekraft_inbox_requests", (("state", "new"),))] == 1
    assert found[("baerekraft_database_up", ())] == 1
    assert ("baerekraft_send_delay_seconds", (("channel", "fake"), ("quantile", "0.99"))) in found
    assert found[("baerekraft_channel_up", (("channel", "web"),))] == 1


def test_a_proxied_request_without_the_token_is_not_answered(site: str) -> None:
    assert httpx.get(f"{site}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404


def test_with_a_token_only_its_bearer_reads_the_metrics(settings: BotSettings, clock: ManualClock) -> None:
    app = build(replace(settings, metrics_token="metrics-token-0123456789"), clock=clock, migrate=False)
    try:
        with serve(create_web_app(app)) as base:
            assert httpx.get(f"{base}/metrics").status_code == 404
            wrong = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 404
            right = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"})
            assert right.status_code == 200 and "baerekraft_database_up 1.0" in right.text
    finally:
        app.close()


# --- what the senders counted, the planner, the channels -------------------------------------------


@dataclass
class ScriptedSender(RecordingSender):
    """Takes `seconds` of the (manual) clock per send; the first `throttled` sends get a 429, and
    with `revoked` every send finds the token revoked."""

    seconds: float = 0.3
    throttled: int = 0
    revoked: bool = False

    def send(self, message: OutgoingMessage) -> str | None:
        self.clock.sleep(self.seconds)
        if self.revoked:
            raise ChannelUnavailable(CREDENTIALS, "token_revoked")
        if self.throttled:
            self.throttled -= 1
            raise RetryLater(5.0)
        return super().send(message)


def plan_a_session(say: Say) -> None:
    say(person("a@kommune.no"), "meld på")
    say(person("b@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-09 09:00 Målt")


def test_send_attempts_429s_and_the_platforms_answer_time_are_counted(
    app: App, clock: ManualClock, say: Say, site: str
) -> None:
    sender = ScriptedSender(clock, seconds=0.3, throttled=1)
    app.delivery.add_sender(sender)
    plan_a_session(say)
    app.delivery.run_until_idle()
    clock.advance(timedelta(seconds=6))  # the Retry-After
    app.delivery.run_until_idle()
    found = samples(httpx.get(f"{site}/metrics").text)
    assert len(sender.sent) == 3  # the post and two people
    assert found[("baerekraft_send_attempts_total", (("channel", "fake"), ("outcome", "sent")))] == 3
    assert found[("baerekraft_send_attempts_total", (("channel", "fake"), ("outcome", "throttled")))] == 1
    assert found[("baerekraft_rate_limited_total", (("channel", "fake"),))] == 1
    assert found[("baerekraft_send_seconds_count", (("channel", "fake"),))] == 4
    assert found[("baerekraft_send_seconds_sum", (("channel", "fake"),))] == pytest.approx(1.2)
    assert found[("baerekraft_send_seconds_bucket", (("channel", "fake"), ("le", "0.25")))] == 0
    assert found[("baerekraft_send_seconds_bucket", (("channel", "fake"), ("le", "0.5")))] == 4


def test_planner_lag_is_how_long_a_due_message_has_waited_to_be_planned(
    app: App, clock: ManualClock, say: Say, site: str
) -> None:
    app.delivery.add_sender(RecordingSender(clock))
    plan_a_session(say)  # its invitation was due days ago: due now, as the session is new

    def lag() -> float:
        return samples(httpx.get(f"{site}/metrics").text)[("baerekraft_planner_lag_seconds", ())]

    assert lag() == 0
    clock.advance(timedelta(seconds=90))  # no planner ran
    assert lag() == 90
    app.delivery.run_until_idle()
    assert lag() == 0
    # The 1-day reminder falls due on 2026-03-08 at 09:00 (Oslo); the planner is 5 minutes late.
    clock.set(datetime(2026, 3, 8, 8, 5, tzinfo=UTC))
    assert lag() == 300
    app.delivery.run_until_idle()
    assert lag() == 0


def test_channels_show_their_state_and_what_holds_their_sending(
    app: App, clock: ManualClock, say: Say, site: str
) -> None:
    app.delivery.add_sender(ScriptedSender(clock, revoked=True))
    plan_a_session(say)
    app.delivery.run_until_idle()
    found = samples(httpx.get(f"{site}/metrics").text)
    assert found[("baerekraft_sending_paused", (("channel", "fake"), ("scope", "channel")))] == 1
    assert found[("baerekraft_channel_up", (("channel", "fake"),))] == 0
    assert found[("baerekraft_channel_state", (("channel", "fake"), ("state", "degraded")))] == 1
    assert found[("baerekraft_channel_up", (("channel", "web"),))] == 1
    # Slack is not configured in this test: off, and no `up` to alert on.
    assert found[("baerekraft_channel_state", (("channel", "slack"), ("state", "off")))] == 1
    assert found[("baerekraft_channel_state", (("channel", "slack"), ("state", "on")))] == 0
    assert ("baerekraft_channel_up", (("channel", "slack"),)) not in found


def test_every_family_is_there_and_parses(app: App, site: str) -> None:
    families = {family.name for family in text_string_to_metric_families(httpx.get(f"{site}/metrics").text)}
    assert families >= {
        "baerekraft_database_up",
        "baerekraft_deliveries",
        "baerekraft_deliveries_throttled",
        "baerekraft_delivery_backlog_seconds",
        "baerekraft_send_delay_seconds",
        "baerekraft_inbox_requests",
        "baerekraft_inbox_oldest_seconds",
        "baerekraft_planner_lag_seconds",
        "baerekraft_sending_paused",
        "baerekraft_channel_up",
        "baerekraft_channel_state",
        "baerekraft_recent_problems",
        "baerekraft_send_attempts",
        "baerekraft_rate_limited",
        "baerekraft_send_seconds",
    }


# --- who may read it ------------------------------------------------------------------------------


def from_elsewhere(app: App, **headers: str) -> httpx.Response:
    """A request from another machine, straight to the bot (no proxy in between)."""
    with TestClient(create_web_app(app), client=("203.0.113.9", 40123)) as client:
        return client.get("/metrics", headers=headers)


def test_another_machine_without_the_token_is_not_answered(app: App) -> None:
    assert from_elsewhere(app).status_code == 404


def test_another_machine_with_the_token_is_answered(settings: BotSettings, clock: ManualClock) -> None:
    app = build(replace(settings, metrics_token="metrics-token-0123456789"), clock=clock, migrate=False)
    try:
        assert from_elsewhere(app).status_code == 404
        assert from_elsewhere(app, Authorization="Bearer metrics-token-0123456789").status_code == 200
    finally:
        app.close()


def test_without_a_database_the_page_still_answers_and_says_so(
    sqlite_template: Path, tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "bot.db"
    shutil.copy(sqlite_template, path)
    settings = BotSettings(database_url=f"sqlite:///{path}", secret_key="test-secret-key-0123456789")
    app = build(settings, clock=clock, migrate=False)
    try:
        with serve(create_web_app(app)) as base:
            app.db.engine.dispose()
            path.unlink()
            path.mkdir()  # where the database was, SQLite can open nothing now
            answer = httpx.get(f"{base}/metrics")
        assert answer.status_code == 200
        found = samples(answer.text)
        assert found[("baerekraft_database_up", ())] == 0
        assert found[("baerekraft_channel_up", (("channel", "web"),))] == 1
    finally:
        app.close()


def test_a_failing_collector_is_a_503_and_a_reported_problem_never_a_500(app: App, site: str) -> None:
    class Broken:
        name = "broken"

        def health(self) -> str:
            raise RuntimeError("health check bug")

    channels = app.channels
    app.channels = (*channels, Broken())  # type: ignore[arg-type]
    try:
        answer = httpx.get(f"{site}/metrics")
    finally:
        app.channels = channels
    assert answer.status_code == 503 and "Traceback" not in answer.text
    assert "metrics" in app.health.recent()
