"""The planner's pass: lead estimates that follow the subscribers, late joiners, and idle passes that
read the window in a few queries whatever its size."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.clock import ManualClock
from bot.delivery import recipients
from bot.delivery.planner import EXPAND_AHEAD, Planner
from bot.entry.composition import App
from bot.models import Delivery
from tests.conftest import ORGANISER, person
from tests.fakes.recording_sender import CountingRecordingSender, RecordingSender

Say = Callable[..., str]
# The session of these tests: Tuesday 10 March 2026, 09:00 in Oslo.
START = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
ONE_HOUR_REMINDER = START - timedelta(hours=1)


def _join(say: Say, names: range) -> None:
    for i in names:
        say(person(f"p{i}@x.no"), "meld på")


def _session(say: Say, start: str = "2026-03-10 09:00") -> None:
    assert "Økten er lagt inn" in say(ORGANISER, f"ny økt {start} Sirkulær økonomi")


@contextmanager
def _statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.lstrip().split()[0].upper())

    event.listen(app.db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(app.db.engine, "before_cursor_execute", note)


@pytest.mark.parametrize("sender", [RecordingSender, CountingRecordingSender], ids=["expanded", "counted"])
def test_the_lead_estimate_is_the_full_fanouts_and_follows_those_who_join(
    app: App, clock: ManualClock, say: Say, sender: type[RecordingSender]
) -> None:
    app.delivery.add_sender(sender(clock, interval=timedelta(seconds=2), posts=False))
    _join(say, range(30))
    _session(say)
    planner = app.delivery.planner
    app.delivery.plan()  # the invitation
    clock.set(datetime(2026, 3, 9, 12, 0, tzinfo=UTC))
    app.delivery.plan()  # the 1-day reminder; the 1-hour one is estimated: 30 sends, 2 s apart
    # Woken to expand it EXPAND_AHEAD before its first send, so the rows are there when it is due.
    assert planner.next_due(clock.now()) == ONE_HOUR_REMINDER - timedelta(seconds=29 * 2) - EXPAND_AHEAD
    clock.advance(timedelta(minutes=6))  # the estimate is renewed: nobody came, it stands
    app.delivery.plan()
    assert planner.next_due(clock.now()) == ONE_HOUR_REMINDER - timedelta(seconds=29 * 2) - EXPAND_AHEAD

    _join(say, range(30, 45))
    clock.advance(timedelta(minutes=6))
    app.delivery.plan()  # 15 more: made afresh
    assert planner.next_due(clock.now()) == ONE_HOUR_REMINDER - timedelta(seconds=44 * 2) - EXPAND_AHEAD
    clock.set(ONE_HOUR_REMINDER - timedelta(seconds=44 * 2) - EXPAND_AHEAD - timedelta(seconds=1))
    report = app.delivery.plan()
    assert report is not None and report.expanded == []  # not yet
    clock.advance(timedelta(seconds=1))
    report = app.delivery.plan()
    assert report is not None and report.expanded == ["s1:reminder:1h:2026-03-10T08:00:00+00:00"]
    with app.db.read() as s:
        first = s.scalar(select(func.min(Delivery.due_at)).where(Delivery.key.like("%:1h:%")))
    assert first == ONE_HOUR_REMINDER - timedelta(seconds=88)  # due at its start, not before


def test_a_lead_counted_reads_no_list_of_subscribers_and_makes_no_target(
    app: App, clock: ManualClock, say: Say, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.delivery.add_sender(CountingRecordingSender(clock, interval=timedelta(seconds=2)))
    _join(say, range(30))
    _session(say)
    app.delivery.plan()  # the invitation, to everyone
    clock.set(datetime(2026, 3, 8, 12, 0, tzinfo=UTC))  # the 1-day reminder is ahead, within a day

    def unread(*_args: Any) -> None:
        raise AssertionError("read every subscriber, or made a target each, only to count them")

    monkeypatch.setattr(recipients, "subscribers", unread)
    monkeypatch.setattr(Planner, "expand_targets", unread)
    report = app.delivery.plan()
    assert report is not None and report.expanded == []
    # 30 people and the post, 2 s apart.
    assert (
        app.delivery.planner.next_due(clock.now()) == START - timedelta(days=1, seconds=30 * 2) - EXPAND_AHEAD
    )


def test_every_late_joiner_gets_the_invitation_also_when_another_leaves(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    _join(say, range(2))
    _session(say)
    app.delivery.run_until_idle()
    for joiner, leaver in ((2, None), (None, None), (3, 1)):
        clock.advance(timedelta(hours=1))
        if leaver is not None:
            say(person(f"p{leaver}@x.no"), "meld av")
        if joiner is not None:
            _join(say, range(joiner, joiner + 1))
        app.delivery.run_until_idle()
    invited = [x.target for x in sender.sent if x.kind == "invitation"]
    assert invited == ["post", "person:1", "person:2", "person:3", "person:4"]
    assert sender.duplicates() == []


def test_an_idle_pass_reads_the_window_in_a_few_queries_and_writes_nothing(
    app: App, clock: ManualClock, say: Say
) -> None:
    app.delivery.add_sender(RecordingSender(clock, interval=timedelta(seconds=2)))
    _join(say, range(5))
    _session(say)
    app.delivery.run_until_idle()  # the invitation
    _join(say, range(5, 6))
    app.delivery.run_until_idle()  # and a late joiner's
    counts = []
    for more in ("2026-03-17 09:00", "2026-03-24 09:00", "2026-03-31 09:00"):
        clock.advance(timedelta(minutes=6))  # estimates are due for renewal
        with _statements(app) as seen:
            report = app.delivery.planner.run(clock.now())
        assert report.expanded == report.skipped == [] and report.added_late == 0
        assert not {"INSERT", "UPDATE", "DELETE"} & set(seen)
        counts.append(seen.count("SELECT"))
        with _statements(app) as seen:
            app.delivery.planner.next_due(clock.now())
        assert seen.count("SELECT") == 3
        _session(say, more)  # the window holds one more session
    # Sessions, their fan-outs, their slide links, the subscribers' stamp: however many sessions.
    assert counts == [4, 4, 4]
