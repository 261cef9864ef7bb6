"""Sent once: across faults, crashes, restarts and several workers; paced, and early enough."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.delivery.channels import OutgoingMessage, RetryLater
from bot.delivery.worker import Worker
from bot.entry.composition import App, build
from bot.entry.settings import BotSettings
from bot.models import Delivery, DeliveryState
from tests.conftest import ORGANISER, person
from tests.delivery.helpers import delivery_states, simulate
from tests.fakes.recording_sender import RecordingSender

Say = Callable[..., str]


def _subscribers(say: Say, n: int) -> None:
    for i in range(n):
        say(person(f"p{i}@kommune.no"), "meld på")


def test_faults_on_a_fifth_of_calls_still_deliver_everything_once(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = RecordingSender(clock, fault_rate=0.2, seed=11)
    app.delivery.add_sender(sender)
    _subscribers(say, 120)
    say(ORGANISER, "ny økt 2026-03-13 09:00 Robusthet")
    simulate(app, clock, datetime(2026, 3, 13, 9, 0, tzinfo=UTC))
    assert sender.faults["429"] > 5 and sender.faults["5xx"] > 5 and sender.faults["timeout"] > 5
    assert sender.duplicates() == []
    per_kind = Counter(x.kind for x in sender.sent)
    assert per_kind == {"invitation": 121, "reminder": 242}
    assert delivery_states(app) == {"sent": 363}


def test_a_crash_leaves_claimed_rows_unsent_and_checks_the_one_in_flight(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    _subscribers(say, 5)
    say(ORGANISER, "ny økt 2026-03-06 09:00 Krasj")
    app.delivery.plan()
    dead = Worker(sender, app.db, app.delivery.outbox, app.delivery.outages, clock, app.errors, batch=6)
    claimed = app.delivery.outbox.claim("fake", dead.name, clock.now(), 6)
    in_flight = app.delivery.outbox.begin(claimed[0].id, dead.name, clock.now())
    assert in_flight is not None
    sender.send(in_flight)  # it went out, then the process died before recording it
    # ... a restart, after the lease ran out:
    clock.advance(timedelta(minutes=3))
    assert app.delivery.outbox.recover(clock.now()) == (5, 1)
    app.delivery.workers["fake"].drain()
    assert sender.duplicates() == []
    assert len(sender.sent) == 6
    with app.db.read() as s:
        checked = s.get(Delivery, claimed[0].id)
    assert checked is not None and checked.state == "sent" and checked.in_doubt


def test_an_in_doubt_message_that_never_left_is_sent_once(app: App, clock: ManualClock, say: Say) -> None:
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    _subscribers(say, 1)
    say(ORGANISER, "ny økt 2026-03-06 09:00 Krasj før sending")
    app.delivery.plan()
    claimed = app.delivery.outbox.claim("fake", "dead-worker", clock.now(), 10)
    app.delivery.outbox.begin(claimed[0].id, "dead-worker", clock.now())  # crash before the request
    clock.advance(timedelta(minutes=3))
    app.delivery.workers["fake"].drain()
    assert sorted(x.target for x in sender.sent) == ["person:1", "post"]


@pytest.mark.parametrize("went_out", [True, False], ids=["went-out", "never-left"])
def test_a_message_in_doubt_is_checked_with_the_platform_before_any_reason_to_skip_it(
    app: App, clock: ManualClock, say: Say, went_out: bool
) -> None:
    """Sent, then the process died; meanwhile its reader unsubscribed. It did go out: recorded as
    sent, not skipped. Had it not left, it is skipped now (no longer subscribed), not sent."""
    sender = RecordingSender(clock, posts=False)
    app.delivery.add_sender(sender)
    reader = person("leser@kommune.no")
    say(reader, "meld på")
    say(ORGANISER, "ny økt 2026-03-06 09:00 Tvil")
    app.delivery.plan()
    [claimed] = app.delivery.outbox.claim("fake", "dead-worker", clock.now(), 10)
    in_flight = app.delivery.outbox.begin(claimed.id, "dead-worker", clock.now())
    assert in_flight is not None
    if went_out:
        sender.send(in_flight)  # then the crash, before it was recorded
    say(reader, "meld av")
    clock.advance(timedelta(minutes=3))
    app.delivery.workers["fake"].drain()
    with app.db.read() as s:
        row = s.get(Delivery, claimed.id)
    assert row is not None
    assert (row.state, len(sender.sent)) == (("sent", 1) if went_out else ("skipped", 0))


def test_a_rate_limited_fanout_starts_early_enough_to_finish_on_time(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = RecordingSender(clock, interval=timedelta(seconds=2), posts=False)  # 30 a minute
    app.delivery.add_sender(sender)
    _subscribers(say, 90)
    say(ORGANISER, "ny økt 2026-03-20 09:00 Stor liste")
    simulate(app, clock, datetime(2026, 3, 20, 8, 0, tzinfo=UTC))
    reminder_1d = sorted(x.at for x in sender.sent if ":reminder:1d:" in x.key)
    due = datetime(2026, 3, 19, 8, 0, tzinfo=UTC)
    assert len(reminder_1d) == 90
    assert due - timedelta(seconds=180) <= reminder_1d[0] <= due - timedelta(seconds=170)
    assert reminder_1d[-1] <= due + timedelta(seconds=2)
    gaps = [b - a for a, b in pairwise(reminder_1d)]
    assert min(gaps) >= timedelta(seconds=2)


def test_organisers_are_warned_when_the_lead_time_is_too_short(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = RecordingSender(clock, interval=timedelta(seconds=2), posts=False)
    app.delivery.add_sender(sender)
    _subscribers(say, 600)  # 20 minutes at 30 a minute
    say(ORGANISER, "gi arrangør org@kommune.no")
    clock.set(datetime(2026, 3, 6, 7, 50, tzinfo=UTC))  # ten minutes before the start
    say(ORGANISER, "ny økt 2026-03-06 09:00 For sent planlagt")
    app.delivery.plan()
    warnings = app.delivery.workers["fake"]
    warnings.run_once()
    organiser_id = _person_id(app, "org@kommune.no")
    assert [x.kind for x in sender.to(f"person:{organiser_id}")][:1] == ["lead_time_warning"]


def _person_id(app: App, email: str) -> int:
    from bot.models import Person

    with app.db.read() as s:
        found = s.scalar(select(Person.id).where(Person.email == email))
    assert found is not None
    return found


@pytest.fixture
def second_app(settings: BotSettings, clock: ManualClock) -> Iterator[App]:
    """Another process on the same database."""
    other = build(settings, clock=clock, migrate=False)
    yield other
    other.close()


def test_two_processes_share_one_fanout_without_duplicates(
    app: App, second_app: App, clock: ManualClock, say: Say, settings: BotSettings
) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite supports one sending process (documented); this runs on PostgreSQL")
    shared = RecordingSender(clock)
    app.delivery.add_sender(shared, batch=5)
    second_app.delivery.add_sender(shared, batch=5)
    _subscribers(say, 300)
    say(ORGANISER, "ny økt 2026-03-06 09:00 To prosesser")
    assert app.delivery.plan() is not None
    assert second_app.delivery.plan() is None  # the other process leads
    counts: dict[str, int] = {}

    def drain(bot: App, name: str) -> None:
        counts[name] = bot.delivery.workers["fake"].drain()

    threads = [threading.Thread(target=drain, args=(bot, n)) for bot, n in ((app, "a"), (second_app, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    second_app.close()
    assert shared.duplicates() == []
    assert len(shared.sent) == 301
    assert counts["a"] > 0 and counts["b"] > 0
    with app.db.read() as s:
        left = s.scalars(select(Delivery).where(Delivery.state != DeliveryState.SENT.value)).all()
    assert left == []


def test_leadership_passes_on_when_the_leader_goes(app: App, second_app: App, settings: BotSettings) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite: one process, always the leader")
    assert app.delivery.leadership.is_leader()
    assert not second_app.delivery.leadership.is_leader()
    app.close()  # the leader stops (a killed process drops its connection the same way)
    assert second_app.delivery.leadership.is_leader()
    second_app.close()


class ThrottledOnce(RecordingSender):
    """Answers the first call with 429 Retry-After: 30, like Slack or Graph under load."""

    def send(self, message: OutgoingMessage) -> str | None:
        if not self.faults:
            self.faults["429"] += 1
            raise RetryLater(30)
        return super().send(message)


def test_a_429_holds_back_the_key_for_retry_after(app: App, clock: ManualClock, say: Say) -> None:
    sender = ThrottledOnce(clock, interval=timedelta(seconds=1), posts=False)
    app.delivery.add_sender(sender)
    _subscribers(say, 3)
    say(ORGANISER, "ny økt 2026-03-06 09:00 Throttle")
    throttled_at = clock.now()
    app.delivery.run_until_idle()
    clock.advance(timedelta(seconds=31))
    app.delivery.run_until_idle()
    assert sorted(x.target for x in sender.sent if x.kind == "invitation") == [
        "person:1",
        "person:2",
        "person:3",
    ]
    assert min(x.at for x in sender.sent) >= throttled_at + timedelta(seconds=30)
    with app.db.read() as s:
        attempts = sorted(s.scalars(select(Delivery.attempts).where(Delivery.state == "sent")))
    assert attempts == [1, 1, 1]  # being throttled is not an attempt


def test_the_periodic_job_and_the_wake_up_never_plan_at_once(app: App, clock: ManualClock, say: Say) -> None:
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    _subscribers(say, 50)
    say(ORGANISER, "ny økt 2026-03-06 09:00 Samtidig")
    errors: list[BaseException] = []

    def plan() -> None:
        try:
            app.delivery.plan()
        except BaseException as exc:  # the test reports whatever a pass raises
            errors.append(exc)

    threads = [threading.Thread(target=plan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    app.delivery.workers["fake"].drain()
    assert len(sender.sent) == 51 and sender.duplicates() == []
