"""`/metrics` as Prometheus reads it: the outbox, the inbox and the channels, counted in the database;
readable with the token, or from this machine only when no token is set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import ManualClock
from bot.entry.composition import App, build
from bot.entry.server import create_web_app
from bot.entry.settings import BotSettings
from tests.conftest import ORGANISER, person
from tests.fakes.recording_sender import RecordingSender
from tests.slack.fakes.slack_bot import serve

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
