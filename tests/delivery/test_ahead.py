"""The schedule ahead (`deliveries plan`): what it lists is what the planner then sends, when it does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.clock import ManualClock
from bot.delivery.ahead import Upcoming, schedule_ahead
from bot.entry.composition import App
from tests.conftest import ORGANISER, person
from tests.delivery.helpers import simulate
from tests.fakes.recording_sender import RecordingSender

Say = Callable[..., str]


def _ahead(app: App, session_id: int | None = None) -> list[Upcoming]:
    with app.db.read() as s:
        return schedule_ahead(s, app.delivery.planner, app.clock.now(), session_id)


def test_the_plan_is_what_the_planner_sends_across_the_spring_dst_change(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    say(person("a@x.no"), "meld på")
    say(person("b@x.no", language="en"), "meld på")
    # Monday 30 March 2026, 09:00 in Oslo; summer time begins on Sunday 29 March.
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 2026-03-30 09:00 Sommertid")
    planned = _ahead(app)
    assert [u.as_json() for u in planned] == [
        {
            "session": 1,
            "kind": "invitation",
            "offset": "7d",
            "due_utc": "2026-03-23T08:00:00+00:00",
            "due_local": "2026-03-23T09:00:00+01:00",
            "channels": ["fake"],
            "recipients": 3,
        },
        {
            "session": 1,
            "kind": "reminder",
            "offset": "1d",
            "due_utc": "2026-03-29T07:00:00+00:00",
            "due_local": "2026-03-29T09:00:00+02:00",
            "channels": ["fake"],
            "recipients": 3,
        },
        {
            "session": 1,
            "kind": "reminder",
            "offset": "1h",
            "due_utc": "2026-03-30T06:00:00+00:00",
            "due_local": "2026-03-30T08:00:00+02:00",
            "channels": ["fake"],
            "recipients": 3,
        },
    ]
    simulate(app, clock, datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    sent = sorted({(x.kind, x.at) for x in sender.to("post")})
    assert sent == sorted((u.kind, u.due_at) for u in planned)
    assert _ahead(app) == []


def test_the_plan_holds_across_the_autumn_dst_change_with_the_series_offsets(
    app: App, clock: ManualClock, say: Say
) -> None:
    clock.set(datetime(2026, 10, 1, 10, 0, tzinfo=UTC))
    sender = RecordingSender(clock, posts=False)
    app.delivery.add_sender(sender)
    say(person("a@x.no"), "meld på")
    # Monday 26 October 2026, 09:00 in Oslo; winter time begins on Sunday 25 October.
    say(ORGANISER, "ny økt 2026-10-26 09:00 Vintertid")
    planned = {(u.kind, u.offset): (u.as_json()["due_utc"], u.as_json()["due_local"]) for u in _ahead(app)}
    assert planned == {
        ("invitation", "7d"): ("2026-10-19T07:00:00+00:00", "2026-10-19T09:00:00+02:00"),
        ("reminder", "1d"): ("2026-10-25T08:00:00+00:00", "2026-10-25T09:00:00+01:00"),
        ("reminder", "1h"): ("2026-10-26T07:00:00+00:00", "2026-10-26T08:00:00+01:00"),
    }
    simulate(app, clock, datetime(2026, 10, 26, 9, 0, tzinfo=UTC))
    assert sorted(x.at.isoformat() for x in sender.sent) == sorted(due for due, _ in planned.values())


def test_waiting_rows_are_listed_and_missed_messages_are_not(app: App, clock: ManualClock, say: Say) -> None:
    app.delivery.add_sender(RecordingSender(clock))
    say(person("a@x.no"), "meld på")
    # In two days: the invitation is due at once, the 1-day reminder after it.
    say(ORGANISER, "ny økt 2026-03-06 09:00 Snart")
    before = _ahead(app)
    assert [(u.kind, u.offset, u.due_at) for u in before] == [
        ("invitation", "7d", clock.now()),
        ("reminder", "1d", datetime(2026, 3, 5, 8, 0, tzinfo=UTC)),
        ("reminder", "1h", datetime(2026, 3, 6, 7, 0, tzinfo=UTC)),
    ]
    assert before[0].channels == {"fake": 2}  # a post and a message to the one subscriber
    app.delivery.planner.run(clock.now())  # expanded, not yet sent: still to go out
    assert [(u.kind, u.offset, u.recipients) for u in _ahead(app, 1)] == [
        ("invitation", "7d", 2),
        ("reminder", "1d", 1),  # she joined less than a day before it: only the post
        ("reminder", "1h", 2),
    ]
    clock.set(datetime(2026, 3, 6, 7, 30, tzinfo=UTC))  # the bot was down: the 1-day one is missed
    assert [u.kind for u in _ahead(app, 1)] == ["invitation", "reminder"]
    assert [u.offset for u in _ahead(app, 1)] == ["7d", "1h"]
    assert _ahead(app, 2) == []


def test_a_cancelled_session_plans_only_its_notice_once_invited(
    app: App, clock: ManualClock, say: Say
) -> None:
    app.delivery.add_sender(RecordingSender(clock, posts=False))
    say(ORGANISER, "ny økt 2026-05-06 09:00 Avlyses")
    say(ORGANISER, "avlys økt 1")
    assert _ahead(app) == []
    say(ORGANISER, "ny økt 2026-03-08 09:00 Avlyses etter invitasjonen")
    app.delivery.run_until_idle()  # invited
    clock.advance(timedelta(hours=1))
    say(ORGANISER, "avlys økt 2")
    assert [(u.session_id, u.kind, u.offset) for u in _ahead(app)] == [(2, "cancellation", None)]
