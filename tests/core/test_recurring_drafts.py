"""Recurrence without surprises: rule-made sessions are drafts nobody else sees and that send nothing
until titled; public holidays of the series' country are skipped; a clash needs `likevel`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.clock import ManualClock
from bot.delivery.ahead import schedule_ahead
from bot.entry.composition import App
from bot.entry.settings import BotSettings
from bot.models import AuditEvent, Fanout, Series, Session
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.series import create_series, edit_series
from bot.views import SessionView
from jobs.recurrence import create_recurring_sessions
from tests.conftest import ORGANISER, person
from tests.fakes.recording_sender import RecordingSender
from tests.web.support import SLUG, Web, open_web

Say = Callable[..., str]
OLA = person("ola@kommune.no")


def _sessions(app: App) -> list[tuple[date, str]]:
    with app.db.read() as s:
        rows = s.scalars(select(Session).order_by(Session.start_at))
        return [(x.start_at.date(), x.status) for x in rows]


def _run_rule(app: App, clock: ManualClock, say: Say, rule: str, at: datetime) -> list[tuple[date, str]]:
    clock.set(at)
    say(ORGANISER, f"gjentakelse {rule}")
    create_recurring_sessions(app)
    return _sessions(app)


def test_no_session_on_new_years_day(app: App, clock: ManualClock, say: Say) -> None:
    # 1 January 2027 is the first Friday of the month.
    made = _run_rule(
        app, clock, say, "første fredag i måneden 09:00-10:00", datetime(2026, 12, 28, tzinfo=UTC)
    )
    assert made == [(date(2027, 2, 5), "draft")]


def test_no_session_on_17_may(app: App, clock: ManualClock, say: Say) -> None:
    # 17 May 2027, Constitution Day (and Whit Monday), is the third Monday of May.
    made = _run_rule(
        app, clock, say, "tredje mandag i måneden 12:00-13:00", datetime(2027, 5, 12, tzinfo=UTC)
    )
    assert made == [(date(2027, 6, 21), "draft")]


def test_holidays_are_those_of_the_series_country(app: App, clock: ManualClock, say: Say) -> None:
    """1 May 2026 (a Friday) is a public holiday in Norway, not in Denmark."""
    clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    with app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, clock.now(), app.config)
        danish = create_series(ctx, "verdensmaal", "Verdensmålsnetværk", "en", "Europe/Copenhagen")
        assert danish.country == "DK"
        assert s.scalars(select(Series).where(Series.slug == SLUG)).one().country == "NO"
    for slug in (SLUG, "verdensmaal"):
        say(ORGANISER, f"gjentakelse {slug} første fredag i måneden 09:00-10:00")
    create_recurring_sessions(app)
    with app.db.read() as s:
        made = {(x.series.slug, x.start_at.date()) for x in s.scalars(select(Session))}
    assert made == {("verdensmaal", date(2026, 5, 1))}
    with app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, clock.now(), app.config)
        norwegian = s.scalars(select(Series).where(Series.slug == SLUG)).one()
        assert edit_series(ctx, norwegian, name=None, language=None, timezone=None, country="dk") == [
            "country"
        ]
        with pytest.raises(UserError) as refused:
            edit_series(ctx, norwegian, name=None, language=None, timezone=None, country="Norge")
        assert refused.value.key == "bad_country"
    create_recurring_sessions(app)
    with app.db.read() as s:
        assert len(list(s.scalars(select(Session)))) == 2


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        yield made


def test_a_draft_is_hidden_and_silent_until_an_organiser_titles_it(site: Web, clock: ManualClock) -> None:
    app = site.app
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)

    def say(actor: object, line: str) -> str:
        from bot.parser import parse

        return app.renderer.reply(app.dispatcher.execute(actor, parse(line)))  # type: ignore[arg-type]

    say(OLA, "meld på")
    say(ORGANISER, "gjentakelse første fredag i måneden 09:00-10:00")
    (session_id,) = create_recurring_sessions(app)  # Friday 6 March 2026
    app.delivery.run_until_idle()
    assert [x.kind for x in sender.sent] == ["topic_needed"]  # to the organisers only
    assert "6. mars" not in say(OLA, "neste")
    assert "6. mars" not in site.client.get(f"/s/{SLUG}").text
    feed = Calendar.from_ical(site.client.get(f"/s/{SLUG}/calendar.ics").content)
    assert [c for c in feed.walk("VEVENT")] == []
    with app.db.read() as s:
        assert schedule_ahead(s, app.delivery.planner, clock.now()) == []
    refused = say(ORGANISER, "ny økt 2026-03-06 09:30 Samtidig")
    assert f"nummer {session_id}" in refused and "likevel" in refused  # the draft is a session

    assert "er endret (tittel)" in say(ORGANISER, f"endre økt {session_id} tittel=Sirkulær økonomi")
    app.delivery.run_until_idle()
    assert "Sirkulær økonomi" in say(OLA, "neste")
    assert "Sirkulær økonomi" in site.client.get(f"/s/{SLUG}").text
    assert [x.kind for x in sender.to("person:1")] == ["invitation"]  # due at once: 2 days ahead
    with app.db.read() as s:
        created = s.scalars(select(AuditEvent).where(AuditEvent.action == "session.created")).one()
    assert created.details["status"] == "draft"


def test_a_clash_is_refused_unless_forced(app: App, say: Say) -> None:
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 2026-03-06 09:00 Første; varighet=60")
    refused = say(ORGANISER, "ny økt 2026-03-06 09:30 Andre")
    assert "Første" in refused and "nummer 1" in refused and "; likevel" in refused
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 2026-03-06 10:00 Rett etter")  # back to back
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 2026-03-06 09:30 Andre; likevel")
    english = say(person("en@x.no", language="en"), "new session 2026-03-13 09:00 X")
    assert "organis" in english.lower()  # not an organiser: refused before any clash check
    moved = say(ORGANISER, "endre økt 2 start=2026-03-06 09:15")
    assert "nummer 1" in moved and "likevel" in moved
    assert "er endret" in say(ORGANISER, "endre økt 2 start=2026-03-06 09:15; likevel")
    with app.db.read() as s:
        forced = [
            e.details["forced"]
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "session.created"))
        ]
    assert forced == [False, False, True]


def test_organisers_are_reminded_of_a_draft_before_its_invitation_would_be_due(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = RecordingSender(clock, posts=False)
    app.delivery.add_sender(sender)
    say(ORGANISER, "gi arrangør org@kommune.no")
    clock.set(datetime(2026, 3, 7, tzinfo=UTC))
    say(ORGANISER, "gjentakelse andre tirsdag i måneden 09:00-10:00")
    # 10 March (its invitation was due already) and 14 April (invitation due 7 April 07:00Z).
    soon, later = create_recurring_sessions(app)
    app.delivery.run_until_idle()
    assert [x.key.split("|")[0] for x in sender.sent] == [f"s{soon}:topic_needed", f"s{later}:topic_needed"]

    def about(*ids: int) -> list[str]:
        keys = [x.key.split("|")[0] for x in sender.sent]
        return [key for key in keys if key.split(":")[0] in {f"s{i}" for i in ids}]

    clock.set(datetime(2026, 4, 4, 6, 59, tzinfo=UTC))
    create_recurring_sessions(app)  # makes 12 May's draft too
    app.delivery.run_until_idle()
    assert about(soon, later) == [f"s{soon}:topic_needed", f"s{later}:topic_needed"]
    clock.set(datetime(2026, 4, 4, 7, 0, tzinfo=UTC))  # three days before 14 April's invitation
    create_recurring_sessions(app)
    create_recurring_sessions(app)  # once only
    app.delivery.run_until_idle()
    # The one made after its reminder time (10 March) is not asked twice.
    assert about(soon, later)[2:] == [f"s{later}:draft_reminder"]
    with app.db.read() as s:
        fanout = s.scalars(select(Fanout).where(Fanout.key == f"s{later}:draft_reminder")).one()
        view = SessionView.of(s.get_one(Session, later))
        message = app.renderer.render(
            "messages/topic_needed.txt",
            {"series": view.series, "session": view, "payload": fanout.payload},
            language="nb",
            timezone="Europe/Oslo",
        )
    assert message.startswith("Påminnelse: økten tirsdag 14. april 2026 kl. 09:00 i Bærekraftsfredag")
    say(ORGANISER, f"endre økt {later} tema=SDG 12")  # no title: still a draft
    with app.db.read() as s:
        assert s.get(Session, later).status == "draft"  # type: ignore[union-attr]
    say(ORGANISER, f"endre økt {later} tittel=Sirkulær økonomi")
    with app.db.read() as s:
        assert s.get(Session, later).status == "scheduled"  # type: ignore[union-attr]
