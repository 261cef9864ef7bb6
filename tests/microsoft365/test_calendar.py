"""The Teams meeting is the invitation (handlers.microsoft365.calendar_sync) against the fake Graph:
created when the session is planned, attendees when the invitation falls due, late subscribers added, leavers
removed, changes and cancellations passed on, more than 500 subscribers over several events."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.clock import ManualClock
from bot.models import Person, Series, Subscription
from bot.settings import DeliveryLimits
from handlers.microsoft365.models import GraphEvent, GraphMailLedger
from tests.conftest import NOW, ORGANISER, person
from tests.microsoft365.fakes.graph_tenant import Event
from tests.microsoft365.support import Tenant365, tenant365

KARI, JOHN, PER = (
    person("kari@kommune.no"),
    person("john@example.org", language="en"),
    person("per@kommune.no"),
)


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        tenant.attach_senders()
        yield tenant


def invitation_due(ms: Tenant365, session_id: int) -> None:
    """Move to the invitation's time (7 days before) and let the planner expand it."""
    start = ms.session(session_id).start_at
    ms.clock.set(start - timedelta(days=7, minutes=-1))
    ms.app.delivery.plan()


def only_event(ms: Tenant365) -> Event:
    [event] = ms.graph.tenant.live_events()
    return event


def mailed(ms: Tenant365, kind: str) -> list[str]:
    return sorted(m.address for m in ms.graph.tenant.mailed(kind))


def test_the_meeting_follows_the_session_and_its_subscribers(ms: Tenant365) -> None:
    ms.say(KARI, "meld på")
    ms.say(JOHN, "subscribe")
    session_id = ms.add_session(NOW + timedelta(days=10))

    # Planned: the meeting exists at once, nobody invited yet, its join link on the session.
    assert ms.m365.calendar.run_once() == 1
    event = only_event(ms)
    assert event.online and event.attendees == [] and event.fields["hideAttendees"] is True
    assert ms.session(session_id).join_url == event.join_url
    assert ms.graph.tenant.exchange == []
    assert ms.m365.calendar.run_once() == 0  # nothing to do: no call at all
    calls = len(ms.graph.calls)

    # The invitation falls due: the subscribers with an address become attendees.
    invitation_due(ms, session_id)
    ms.m365.calendar.run_once()
    assert mailed(ms, "invitation") == ["john@example.org", "kari@kommune.no"]
    assert len(ms.graph.calls) == calls + 2  # the event read, then one PATCH

    # A late subscriber is added (and invited); the others are not invited again.
    ms.say(PER, "meld på")
    ms.m365.calendar.run_once()
    assert mailed(ms, "invitation") == ["john@example.org", "kari@kommune.no", "per@kommune.no"]
    assert [a["emailAddress"]["address"] for a in event.patches[-1]["attendees"]][-1] == "per@kommune.no"

    # Someone who leaves is taken off (Exchange sends them a cancellation).
    ms.say(JOHN, "unsubscribe")
    ms.m365.calendar.run_once()
    assert sorted(event.attendees) == ["kari@kommune.no", "per@kommune.no"]
    assert mailed(ms, "cancellation") == ["john@example.org"]

    # A new time: every attendee gets the update.
    ms.say(ORGANISER, f"endre økt {session_id} start=2026-03-14 10:00; tittel=Ny tittel")
    ms.m365.calendar.run_once()
    assert event.fields["start"] == {"dateTime": "2026-03-14T09:00:00", "timeZone": "UTC"}
    assert event.fields["subject"] == "Bærekraftsfredag: Ny tittel"
    assert mailed(ms, "update") == ["kari@kommune.no", "per@kommune.no"]

    # Cancelled: the event is cancelled, its attendees told.
    ms.say(ORGANISER, f"avlys økt {session_id}")
    ms.m365.calendar.run_once()
    assert event.cancelled
    assert mailed(ms, "cancellation") == ["john@example.org", "kari@kommune.no", "per@kommune.no"]
    assert ms.m365.calendar.run_once() == 0


def test_the_invitation_posts_carry_the_join_link(ms: Tenant365) -> None:
    ms.login()
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    invitation_due(ms, session_id)
    ms.app.delivery.run_until_idle()
    [post] = ms.graph.tenant.channel_posts()
    join_url = only_event(ms).join_url
    assert join_url and join_url in post.shown


def test_a_session_cancelled_before_anyone_was_invited_just_loses_its_event(ms: Tenant365) -> None:
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    ms.say(ORGANISER, f"avlys økt {session_id}")
    ms.m365.calendar.run_once()
    assert ms.graph.tenant.live_events() == [] and ms.graph.tenant.exchange == []


def test_an_organisers_own_link_makes_a_plain_event_with_that_link(ms: Tenant365) -> None:
    session_id = ms.add_session(NOW + timedelta(days=10), join_url="https://teams.example/m/own")
    ms.m365.calendar.run_once()
    event = only_event(ms)
    assert not event.online and event.fields["location"] == {"displayName": "https://teams.example/m/own"}
    assert ms.session(session_id).join_url == "https://teams.example/m/own"


def test_a_create_whose_answer_was_lost_makes_no_second_event(ms: Tenant365) -> None:
    ms.graph.fail("POST", "/events$", status=504, retry_after=None, after=True)
    ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    assert len(ms.graph.tenant.live_events()) == 1
    assert ms.graph.count("POST", "/events$", successful_only=False) == 2


def test_throttling_ends_the_pass_and_the_next_one_finishes(ms: Tenant365) -> None:
    ms.say(KARI, "meld på")
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    invitation_due(ms, session_id)
    ms.graph.fail("PATCH", "/events/", status=429, retry_after=600)
    ms.m365.calendar.run_once()
    assert ms.graph.tenant.mailed("invitation") == []
    ms.m365.calendar.run_once()
    assert mailed(ms, "invitation") == ["kari@kommune.no"]
    with ms.app.db.read() as s:
        assert s.scalars(select(GraphMailLedger.recipients)).all() == [1]  # the throttled try was given back


def test_a_vanished_event_is_made_again(ms: Tenant365) -> None:
    ms.say(KARI, "meld på")
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    only_event(ms).deleted = True  # someone deleted it in Outlook
    invitation_due(ms, session_id)
    ms.m365.calendar.run_once()
    ms.m365.calendar.run_once()
    assert only_event(ms).attendees == ["kari@kommune.no"]


def test_a_meeting_another_process_made_first_is_the_one_kept_and_gets_its_attendees(
    ms: Tenant365, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker process makes the meeting for a message about to go out (no attendees) just as the
    front's calendar pass makes it with the subscribers: one event, and both invited all the same."""
    ms.say(KARI, "meld på")
    ms.say(JOHN, "subscribe")
    session_id = ms.add_session(NOW + timedelta(days=10))
    invitation_due(ms, session_id)
    front = ms.m365.calendar
    worker = copy.copy(front)  # another process: its own lock, the same database and Graph
    worker._lock = threading.Lock()
    insert_part = front._insert_part

    def worker_first(*args: Any, **kwargs: Any) -> Any:
        assert worker.ensure_meeting(session_id)  # reserves part 0 and POSTs it, attendees to come
        return insert_part(*args, **kwargs)

    monkeypatch.setattr(front, "_insert_part", worker_first)
    front.run_once()
    event = only_event(ms)
    assert ms.graph.count("POST", "/events$") == 2  # the same transaction id: one event
    assert sorted(event.attendees) == mailed(ms, "invitation") == ["john@example.org", "kari@kommune.no"]
    assert ms.session(session_id).join_url == event.join_url
    with ms.app.db.read() as s:
        [row] = s.scalars(select(GraphEvent))
        assert sorted(row.attendee_ids) == [1, 2] and row.invited
    assert front.run_once() == 0  # in step: nothing left to do


def add_subscribers(ms: Tenant365, count: int) -> None:
    """Many subscribers at once, straight into the database."""
    now = ms.clock.now()
    with ms.app.db.transaction() as s:
        series_id = s.scalar(select(Series.id).where(Series.slug == "baerekraftsfredag"))
        first = (s.scalar(select(Person.id).order_by(Person.id.desc()).limit(1)) or 0) + 1
        people = [
            {"id": first + n, "email": f"p{first + n}@kommune.no", "created_at": now} for n in range(count)
        ]
        s.execute(insert(Person), people)
        s.execute(
            insert(Subscription),
            [
                {"person_id": p["id"], "series_id": series_id, "source_channel": "email", "consented_at": now}
                for p in people
            ],
        )


def test_more_than_500_subscribers_get_a_second_event_with_the_same_meeting(ms: Tenant365) -> None:
    add_subscribers(ms, 501)
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    invitation_due(ms, session_id)
    ms.m365.calendar.run_once()
    first, second = sorted(ms.graph.tenant.live_events(), key=lambda e: -len(e.attendees))
    assert (len(first.attendees), len(second.attendees)) == (500, 1)
    assert first.online and not second.online
    assert second.fields["location"] == {"displayName": first.join_url}
    assert len(set(first.attendees) | set(second.attendees)) == 501  # nobody cut, nobody twice
    assert len(ms.graph.tenant.mailed("invitation")) == 501
    with ms.app.db.read() as s:
        assert sum(s.scalars(select(GraphMailLedger.recipients))) == 501  # counted against the day


def test_parts_keep_their_people_and_newcomers_fill_the_first_room(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = DeliveryLimits(mail_rate_per_minute=600, mail_max_recipients=3)
    with tenant365(db_url, ManualClock(NOW), monkeypatch, limits=limits) as ms:
        add_subscribers(ms, 7)
        session_id = ms.add_session(NOW + timedelta(days=10))
        invitation_due(ms, session_id)
        ms.m365.calendar.run_once()
        with ms.app.db.read() as s:
            parts = {e.part: list(e.attendee_ids) for e in s.scalars(select(GraphEvent))}
        assert [len(parts[n]) for n in sorted(parts)] == [3, 3, 1]
        leaver = parts[0][0]
        with ms.app.db.transaction() as s:
            sub = s.scalar(select(Subscription).where(Subscription.person_id == leaver))
            assert sub is not None
            sub.active = False
        add_subscribers(ms, 1)
        ms.m365.calendar.run_once()
        with ms.app.db.read() as s:
            after = {e.part: list(e.attendee_ids) for e in s.scalars(select(GraphEvent))}
        assert after[1] == parts[1] and leaver not in after[0]
        assert len(after[0]) == 3 and len(after[2]) == 1  # the newcomer took the freed place
        invited = [m.address for m in ms.graph.tenant.mailed("invitation")]
        assert len(invited) == len(set(invited)) == 8
