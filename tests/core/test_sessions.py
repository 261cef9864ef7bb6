"""Organisers planning sessions and slides through the command language; others refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.entry.composition import App
from bot.models import AuditEvent, PresentationLink, Session
from tests.conftest import ORGANISER, person

OLA = person("ola@kommune.no")


def _sessions(app: App) -> list[Session]:
    with app.db.read() as s:
        return list(s.scalars(select(Session).order_by(Session.id)))


def test_organiser_adds_a_session_in_local_time(app: App, say: Callable[..., str]) -> None:
    reply = say(
        ORGANISER,
        "ny økt 2026-03-06 09:00 Likestilling i kommunen; tema=SDG 5; varighet=90; "
        "foredragsholdere=Kari Nordmann, Ola Hansen; lenke=https://teams.example/meet/1",
    )
    assert "Økten er lagt inn (nummer 1)" in reply
    assert "fredag 6. mars 2026 kl. 09:00–10:30" in reply
    (session,) = _sessions(app)
    assert session.start_at == datetime(2026, 3, 6, 8, 0, tzinfo=UTC)  # 09:00 in Oslo, winter time
    assert session.duration_minutes == 90
    assert session.topic == "SDG 5"
    assert session.speakers == "Kari Nordmann, Ola Hansen"
    assert session.join_url == "https://teams.example/meet/1"
    assert session.status == "scheduled"


def test_summer_session_keeps_its_wall_clock_time(app: App, say: Callable[..., str]) -> None:
    say(ORGANISER, "ny økt 2026-06-05 09:00 Sommerøkt")
    (session,) = _sessions(app)
    assert session.start_at == datetime(2026, 6, 5, 7, 0, tzinfo=UTC)  # 09:00 in Oslo, summer time
    assert "fredag 5. juni 2026 kl. 09:00" in say(OLA, "neste")


def test_time_skipped_by_dst_is_refused(app: App, say: Callable[..., str]) -> None:
    reply = say(ORGANISER, "ny økt 2026-03-29 02:30 Natteøkt")
    assert "finnes ikke" in reply
    assert _sessions(app) == []


def test_non_organiser_is_refused_and_nothing_changes(app: App, say: Callable[..., str]) -> None:
    reply = say(OLA, "ny økt 2026-03-06 09:00 Forsøk")
    assert "Det kan bare arrangører for Bærekraftsfredag gjøre" in reply
    assert _sessions(app) == []
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
    assert "bare arrangører" in say(OLA, "antall")


def test_granted_organiser_may_act_and_revoked_may_not(app: App, say: Callable[..., str]) -> None:
    assert "er nå arrangør" in say(ORGANISER, "gi arrangør ola@kommune.no")
    assert "allerede arrangør" in say(ORGANISER, "gi arrangør ola@kommune.no")
    assert "Økten er lagt inn" in say(OLA, "ny økt 2026-03-06 09:00 Olas økt")
    assert "ikke lenger arrangør" in say(ORGANISER, "fjern arrangør ola@kommune.no")
    assert "bare arrangører" in say(OLA, "avlys økt 1")


def test_change_raises_sequence_and_reports_fields(app: App, say: Callable[..., str]) -> None:
    say(ORGANISER, "ny økt 2026-03-06 09:00 Første tittel")
    reply = say(ORGANISER, "endre økt 1 tittel=Ny tittel; start=2026-03-06 10:00")
    assert "Økt 1 er endret (tittel, tidspunkt)" in reply
    (session,) = _sessions(app)
    assert session.title == "Ny tittel"
    assert session.start_at == datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    assert session.sequence == 1
    assert "ingenting er endret" in say(ORGANISER, "endre økt 1 tittel=Ny tittel")
    assert _sessions(app)[0].sequence == 1


def test_cancel_hides_the_session_from_next(app: App, say: Callable[..., str]) -> None:
    say(ORGANISER, "ny økt 2026-03-06 09:00 Avlyses")
    assert "er avlyst" in say(ORGANISER, "avlys økt 1")
    assert "Ingen ny økt" in say(OLA, "neste")
    assert "kan ikke endres" in say(ORGANISER, "endre økt 1 tittel=X")
    assert _sessions(app)[0].sequence == 1


def test_unknown_session_is_named(say: Callable[..., str]) -> None:
    assert "ingen økt med nummer 42" in say(ORGANISER, "avlys økt 42")


def test_past_start_is_refused(app: App, say: Callable[..., str]) -> None:
    assert "allerede passert" in say(ORGANISER, "ny økt 2026-03-01 09:00 For sent")
    assert _sessions(app) == []


def test_links_on_a_held_session_appear_in_the_archive(
    app: App, say: Callable[..., str], clock: ManualClock
) -> None:
    say(ORGANISER, "ny økt 2026-03-06 09:00 Sirkulær økonomi; foredragsholdere=Kari")
    clock.set(datetime(2026, 3, 6, 12, 0, tzinfo=UTC))
    reply = say(
        ORGANISER,
        "ny lenke 1 https://ks.no/slides/sirkular.pdf Sirkulær økonomi i praksis; foredragsholder=Kari",
    )
    assert "Lenken er lagt til økt 1" in reply
    archive = say(OLA, "arkiv")
    assert "Sirkulær økonomi – fredag 6. mars 2026" in archive
    assert "Sirkulær økonomi i praksis (Kari): https://ks.no/slides/sirkular.pdf" in archive
    assert "fjernet" in say(ORGANISER, "fjern lenke 1")
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(PresentationLink)) == 0


def test_count_counts_active_subscribers_only(say: Callable[..., str]) -> None:
    say(person("a@x.no"), "meld på")
    say(person("b@x.no"), "meld på")
    say(person("c@x.no"), "meld på")
    say(person("c@x.no"), "meld av")
    assert "Bærekraftsfredag har 2 påmeldte" in say(ORGANISER, "antall")


def test_recurrence_is_stored_as_rrule(app: App, say: Callable[..., str]) -> None:
    reply = say(ORGANISER, "gjentakelse første fredag i måneden 09:00-10:00 ikke juli")
    assert "første fredag i måneden kl. 09:00–10:00, men ikke i juli" in reply
    with app.db.read() as s:
        from bot.models import Series

        series = s.scalars(select(Series)).one()
        assert series.recurrence is not None and "BYDAY=1FR" in series.recurrence
        assert "7" not in series.recurrence.split("BYMONTH=")[1].split(",")
        assert series.default_duration_minutes == 60
    assert "ikke lenger" in say(ORGANISER, "gjentakelse av")


def test_mark_held_after_the_end(app: App, say: Callable[..., str], clock: ManualClock) -> None:
    from jobs.housekeeping import mark_sessions_held

    say(ORGANISER, "ny økt 2026-03-06 09:00 Holdes")
    assert mark_sessions_held(app) == []
    clock.set(datetime(2026, 3, 6, 9, 0, tzinfo=UTC) + timedelta(minutes=1))
    assert mark_sessions_held(app) == [1]
    assert _sessions(app)[0].status == "held"


def test_operator_actor_is_audited_by_label(app: App, say: Callable[..., str]) -> None:
    cli = Actor("cli", "root", is_operator=True)
    say(cli, "ny økt 2026-03-06 09:00 Fra CLI")
    with app.db.read() as s:
        event = s.scalars(select(AuditEvent)).one()
    assert (event.actor_label, event.actor_person_id, event.channel) == ("cli:root", None, "cli")
