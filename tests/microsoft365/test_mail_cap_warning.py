"""Organisers are told ahead, in their own channel and language, when a session's mail will not fit
the mailbox's daily recipient cap: worked out by the planner from its own schedule (the meeting
invitation, the reminders and the follow-up that fall within 24 hours, other sessions sharing the
day), as soon as the session is planned, and shown by `deliveries plan` and `series show`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.clock import ManualClock
from bot.delivery import kinds
from bot.delivery.cap_warnings import overruns_ahead
from bot.entry.cli.deliveries import over_the_cap
from bot.models import Delivery, Fanout
from bot.settings import DeliveryLimits
from tests.conftest import NOW, ORGANISER, person
from tests.microsoft365.support import Tenant365, tenant365, wait_for


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    # Three subscribers and a day of four recipients: the two reminders (1 day and 1 hour before)
    # reach six within 24 hours; the invitation, a week before, fits on its own.
    limits = DeliveryLimits(mail_rate_per_minute=600, mail_daily_recipients=4)
    with tenant365(db_url, ManualClock(NOW), monkeypatch, limits=limits) as tenant:
        tenant.attach_senders()
        tenant.say(ORGANISER, "gi arrangør org@kommune.no")
        yield tenant


def warnings(ms: Tenant365) -> list[Fanout]:
    with ms.app.db.read() as s:
        return list(s.scalars(select(Fanout).where(Fanout.kind == kinds.MAIL_CAP_WARNING)))


def test_the_organisers_are_told_when_the_session_is_planned_not_when_the_mail_is_due(ms: Tenant365) -> None:
    for n in range(3):
        ms.say(person(f"p{n}@kommune.no"), "meld på")
    session_id = ms.add_session(NOW + timedelta(days=20))
    ms.app.delivery.plan()
    [warning] = warnings(ms)
    assert warning.session_id == session_id and warning.key == f"s{session_id}:mail-cap"
    assert warning.payload["recipients"] == 6 and warning.payload["cap"] == 4
    assert warning.payload["messages"] == ["reminder", "reminder"]
    with ms.app.db.read() as s:
        [row] = s.scalars(select(Delivery).where(Delivery.fanout_id == warning.id))
    assert row.channel == "email" and row.due_at == NOW  # to the organiser now, 19 days ahead
    ms.app.delivery.run_until_idle()
    [mail] = [m for m in ms.graph.tenant.mails if m.to == ["org@kommune.no"]]
    assert "går over postkassens dagsgrense" in mail.subject
    assert mail.text is not None and "6 mottakere innenfor ett døgn" in mail.text
    assert "SMTP-relé" in mail.text and "postkasse til" in mail.text and "færre påminnelser" in mail.text
    ms.app.delivery.plan()
    assert len(warnings(ms)) == 1  # told once


def test_a_session_that_fits_gets_no_warning_until_the_list_grows(ms: Tenant365) -> None:
    for n in range(2):
        ms.say(person(f"p{n}@kommune.no"), "meld på")
    session_id = ms.add_session(NOW + timedelta(days=20))
    ms.app.delivery.plan()
    assert warnings(ms) == []  # 2 + 2 within the day: exactly the cap
    ms.say(person("p2@kommune.no"), "meld på")
    ms.app.delivery.plan()
    assert [w.session_id for w in warnings(ms)] == [session_id]


def test_sessions_sharing_the_mailbox_day_count_together(ms: Tenant365) -> None:
    for n in range(2):
        ms.say(person(f"p{n}@kommune.no"), "meld på")
    first = ms.add_session(NOW + timedelta(days=20))
    second = ms.add_session(NOW + timedelta(days=20, hours=3), "Likestilling")
    ms.app.delivery.plan()
    assert sorted(w.session_id or 0 for w in warnings(ms)) == [first, second]
    assert {w.payload["others"] for w in warnings(ms)} == {1}


def test_the_overrun_is_shown_ahead_for_deliveries_plan(ms: Tenant365) -> None:
    for n in range(3):
        ms.say(person(f"p{n}@kommune.no"), "meld på")
    session_id = ms.add_session(NOW + timedelta(days=20))
    with ms.app.db.read() as s:
        [overrun] = overruns_ahead(s, ms.app.delivery.senders, NOW)
    shown = overrun.as_json()
    assert shown["recipients"] == 6 and shown["cap"] == 4 and shown["sessions"] == [session_id]
    assert shown["messages"] == [f"{session_id}:reminder", f"{session_id}:reminder"]
    ahead = NOW + timedelta(days=19)  # the 1-day reminder opens the day
    [line] = over_the_cap([overrun])
    assert line.startswith(f"Over the daily cap: email to 6 recipients within 24 hours from {ahead:%Y-%m-%d}")
    assert f"(cap 4; sessions {session_id})" in line


def test_with_a_worker_process_the_caps_are_weighed_there_after_each_pass(ms: Tenant365) -> None:
    # The front nudges the worker instead of reading every subscriber between two acks.
    nudges: list[str] = []
    ms.app.delivery.weigh_caps_elsewhere(lambda: nudges.append("caps"))
    for n in range(3):
        ms.say(person(f"p{n}@kommune.no"), "meld på")
    session_id = ms.add_session(NOW + timedelta(days=20))
    ms.app.delivery.plan()
    assert warnings(ms) == [] and nudges == ["caps"]
    try:
        ms.app.delivery.weigh_caps_soon()  # the worker process's end of the nudge
        [warning] = wait_for(lambda: warnings(ms))
        assert warning.session_id == session_id and warning.payload["recipients"] == 6
        with ms.app.db.read() as s:
            [row] = s.scalars(select(Delivery).where(Delivery.fanout_id == warning.id))
        assert row.channel == "email" and row.due_at == NOW
        ms.app.delivery.weigh_caps_soon()
        ms.app.delivery.plan()
        assert nudges == ["caps", "caps"]
    finally:
        ms.app.delivery.stop()
    assert len(warnings(ms)) == 1  # told once


def test_a_pass_reads_each_series_stamp_once_for_the_planner_and_the_caps(ms: Tenant365) -> None:
    """A late joiner has the planner stamp the series on every pass; the caps, weighed after the
    pass, use that stamp instead of reading the subscribers' aggregates again."""
    for n in range(2):
        ms.say(person(f"p{n}@kommune.no"), "meld på")
    ms.add_session(NOW + timedelta(days=3))  # its invitation goes out at once
    ms.app.delivery.run_until_idle()
    ms.say(person("late@kommune.no"), "meld på")
    ms.app.delivery.run_until_idle()  # the late joiner's invitation
    stamps: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "sum(identity.person_id)" in statement.lower():  # the stamp's aggregate of identities
            stamps.append(statement)

    for _ in range(2):
        ms.clock.advance(timedelta(seconds=10))
        event.listen(ms.app.db.engine, "before_cursor_execute", note)
        try:
            ms.app.delivery.plan()
        finally:
            event.remove(ms.app.db.engine, "before_cursor_execute", note)
        assert len(stamps) == 1
        stamps.clear()
