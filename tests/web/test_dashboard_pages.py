"""The dashboard's pages: the organiser's series, a series' programme with drafts, a session edited
through the service `endre økt` uses (validation, clash refused unless ticked, audit), slides,
cancelling with confirmation, the previews, and nothing of a series the organiser does not run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import select, update

from bot.clock import ManualClock
from bot.commands import SessionFields, Subscribe
from bot.delivery.operations import send_now
from bot.entry.settings import BotSettings
from bot.models import AuditEvent, Delivery, Session
from bot.services.context import Ctx
from bot.services.series import create_series
from bot.services.sessions import add_session
from handlers.smtp.settings import SmtpSettings
from tests.conftest import ORGANISER, person
from tests.web.dashboard_support import admin_post, make_organiser, sign_in, sign_in_link, use_link
from tests.web.support import SLUG, Web, add_a_session, h1, open_web

START = datetime(2026, 3, 13, 9, 0)  # a Friday, local time in Oslo


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        make_organiser(made)
        sign_in(made)
        yield made


def session_row(web: Web, session_id: int) -> Session:
    with web.app.db.read() as s:
        found = s.get(Session, session_id)
        assert found is not None
        s.expunge(found)
        return found


def test_the_series_page_shows_drafts_as_drafts_and_past_sessions(site: Web) -> None:
    held = add_a_session(site.app, "Sirkulær økonomi", datetime(2026, 2, 6, 9, 0))
    with site.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, site.app.clock.now(), site.app.config)
        from bot.services.series import resolve_series

        draft = add_session(
            ctx, resolve_series(ctx, SLUG), SessionFields(title="-", start_local=START), draft=True
        ).id
    page = site.client.get(f"/admin/s/{SLUG}")
    assert page.status_code == 200
    assert f'href="/admin/sessions/{draft}"' in page.text and "Utkast" in page.text
    assert f'href="/admin/sessions/{held}"' in page.text


def test_an_edit_saves_through_the_service_and_is_audited_with_the_organiser(site: Web) -> None:
    sid = add_a_session(site.app, "Likestilling", START)
    path = f"/admin/sessions/{sid}"
    form = {
        "title": "Likestilling i kommunen",
        "start": "2026-03-13T10:30",
        "duration": "90",
        "topic": "SDG 5",
        "speakers": "Kari",
        "description": "Om <likestilling>",
        "join_url": "",
    }
    saved = admin_post(site, path, form, form_page=path)
    assert saved.status_code == 303 and saved.headers["location"] == f"{path}?done=saved"
    row = session_row(site, sid)
    assert (row.title, row.duration_minutes, row.topic) == ("Likestilling i kommunen", 90, "SDG 5")
    assert row.start_at.isoformat() == "2026-03-13T09:30:00+00:00"  # 10:30 in Oslo
    page = site.client.get(f"{path}?done=saved")
    assert "Endringene er lagret." in page.text
    assert "Om &lt;likestilling&gt;" in page.text, "user text is escaped"
    with site.app.db.read() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "session.changed", AuditEvent.subject_id == sid)
        ).one()
        assert event.channel == "dashboard" and event.actor_person_id is not None
        assert set(event.details["fields"]) >= {"title", "start", "duration_minutes", "topic"}


def test_a_bad_edit_is_shown_in_the_form_and_changes_nothing(site: Web) -> None:
    sid = add_a_session(site.app, "Likestilling", START)
    path = f"/admin/sessions/{sid}"
    for field, value, status in [
        ("start", "neste fredag", 422),
        ("title", "   ", 422),
        ("duration", "0", 422),
        ("join_url", "javascript:alert(1)", 422),
        ("start", "2026-01-02T09:00", 422),
    ]:
        answer = admin_post(site, path, {field: value}, form_page=path)
        assert answer.status_code == status, (field, answer.text[:300])
        assert "Endringen ble ikke lagret" in answer.text
    assert session_row(site, sid).title == "Likestilling"


def test_a_clash_is_refused_until_plan_anyway_is_ticked(site: Web) -> None:
    add_a_session(site.app, "Først", datetime(2026, 3, 20, 9, 0))
    sid = add_a_session(site.app, "Likestilling", START)
    path = f"/admin/sessions/{sid}"
    refused = admin_post(site, path, {"start": "2026-03-20T09:30"}, form_page=path)
    assert refused.status_code == 422
    assert 'name="anyway"' in refused.text and "«Først»" in refused.text
    assert session_row(site, sid).start_at.day == 13
    anyway = admin_post(site, path, {"start": "2026-03-20T09:30", "anyway": "yes"}, form_page=path)
    assert anyway.status_code == 303
    assert session_row(site, sid).start_at.day == 20


def test_slides_are_added_and_removed(site: Web) -> None:
    sid = add_a_session(site.app, "Likestilling", START)
    path = f"/admin/sessions/{sid}"
    link = {"link_title": "Lysark", "link_url": "https://ks.no/lysark.pdf", "link_speaker": "Kari"}
    assert admin_post(site, f"{path}/links", link, form_page=path).status_code == 303
    row = session_row(site, sid)
    with site.app.db.read() as s:
        link_id = s.get(Session, sid).links[0].id  # type: ignore[union-attr]
    assert row.id == sid
    page = site.client.get(path)
    assert 'href="https://ks.no/lysark.pdf"' in page.text
    bad = admin_post(site, f"{path}/links", {"link_title": "x", "link_url": "ftp://x"}, form_page=path)
    assert bad.status_code == 422
    removed = admin_post(site, f"{path}/links/{link_id}/remove", {}, form_page=path)
    assert removed.status_code == 303
    assert 'href="https://ks.no/lysark.pdf"' not in site.client.get(path).text


def test_cancelling_needs_the_box_ticked(site: Web) -> None:
    sid = add_a_session(site.app, "Likestilling", START)
    path = f"/admin/sessions/{sid}"
    unticked = admin_post(site, f"{path}/cancel", {}, form_page=path)
    assert unticked.status_code == 422 and "Kryss av" in unticked.text
    assert session_row(site, sid).status == "scheduled"
    done = admin_post(site, f"{path}/cancel", {"confirm": "yes"}, form_page=path)
    assert done.status_code == 303
    assert session_row(site, sid).status == "cancelled"


def test_another_series_is_invisible_and_unchangeable(site: Web) -> None:
    with site.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, site.app.clock.now(), site.app.config)
        other = create_series(ctx, "verdensmaal", "Verdensmålsnetværk", "da", "Europe/Copenhagen")
        theirs = add_session(ctx, other, SessionFields(title="Hemmelig", start_local=START)).id
    home = site.client.get("/admin")
    assert "Verdensmålsnetværk" not in home.text
    assert site.client.get("/admin/s/verdensmaal").status_code == 404
    page = site.client.get(f"/admin/sessions/{theirs}")
    assert page.status_code == 404 and "Hemmelig" not in page.text
    mine = add_a_session(site.app, "Likestilling", START)
    token_page = f"/admin/sessions/{mine}"
    changed = admin_post(site, f"/admin/sessions/{theirs}", {"title": "Min nå"}, form_page=token_page)
    assert changed.status_code == 404
    assert session_row(site, theirs).title == "Hemmelig"
    assert site.client.get(f"/admin/sessions/{theirs}/preview").status_code == 404


@pytest.fixture
def mailing(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    """A bot whose mail goes through an SMTP relay (nothing is sent: the preview only renders)."""
    relay = SmtpSettings(host="127.0.0.1", sender="webinar@kommune.no", port=1)
    with open_web(replace(settings, smtp=relay), clock) as made:
        make_organiser(made)
        sign_in(made)
        yield made


def test_the_reminder_preview_shows_each_channel_and_language_with_the_mail_framed(mailing: Web) -> None:
    site = mailing
    sid = add_a_session(site.app, "Likestilling i kommunen", START)
    site.app.dispatcher.execute(person("ola@kommune.no", language="en"), Subscribe(series=SLUG))
    site.app.dispatcher.execute(person("kari@kommune.no"), Subscribe(series=SLUG))
    page = site.client.get(f"/admin/sessions/{sid}/preview?kind=reminder")
    assert page.status_code == 200
    assert h1(page.text) == "Forhåndsvisning: Påminnelse"
    assert "Likestilling i kommunen" in page.text
    assert "norsk bokmål" in page.text and "engelsk" in page.text, "one message per language in use"
    assert "Mottakere: 2" in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    found = [line for line in page.text.splitlines() if "<iframe" in line]
    assert found and "sandbox" in found[0], page.text
    src = found[0].split('src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    mail = site.client.get(src)
    assert mail.status_code == 200 and "Likestilling i kommunen" in mail.text
    policy = mail.headers["content-security-policy"]
    assert "sandbox" in policy and "script-src" not in policy and "frame-ancestors 'self'" in policy
    assert mail.headers["x-frame-options"] == "SAMEORIGIN"


def test_the_preview_without_any_channel_still_shows_the_text(site: Web) -> None:
    sid = add_a_session(site.app, "Likestilling i kommunen", START)
    page = site.client.get(f"/admin/sessions/{sid}/preview?kind=invitation")
    assert page.status_code == 200
    assert "Likestilling i kommunen" in page.text


def test_the_session_page_shows_the_schedule_ahead_and_what_was_sent_with_a_retry(mailing: Web) -> None:
    site = mailing
    sid = add_a_session(site.app, "Likestilling i kommunen", START)
    site.app.dispatcher.execute(person("ola@kommune.no"), Subscribe(series=SLUG))
    path = f"/admin/sessions/{sid}"
    page = site.client.get(path)
    assert "Dette sendes" in page.text
    schedule = page.text.split('id="schedule-title"', 1)[1].split("</section>", 1)[0]
    assert "Påminnelse (1d)" in schedule and "Påminnelse (1h)" in schedule
    assert "12.3.2026 09:00" in schedule, "the 1-day reminder at 09:00 local time the day before"
    assert "E-post" in schedule
    assert "Ingenting er sendt ennå." in page.text

    with site.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, site.app.clock.now(), site.app.config)
        ids = send_now(ctx, site.app.delivery.planner, sid, "invitation")
        s.execute(
            update(Delivery).where(Delivery.id.in_(ids)).values(state="failed", last_error="relay down")
        )
    page = site.client.get(path)
    sent = page.text.split('id="sent-title"', 1)[1].split("</section>", 1)[0]
    assert "Invitasjon" in sent and "Mislyktes" in sent
    retried = admin_post(site, f"{path}/retry", {}, form_page=path)
    assert retried.status_code == 303
    with site.app.db.read() as s:
        states = set(s.scalars(select(Delivery.state).where(Delivery.id.in_(ids))))
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "delivery.retried")).one()
    assert states == {"pending"}
    assert event.channel == "dashboard" and event.details["ids"] == ids


def test_the_cancellation_notice_is_previewed_while_there_is_something_to_cancel(site: Web) -> None:
    sid = add_a_session(site.app, "Likestilling i kommunen", START)
    path = f"/admin/sessions/{sid}"
    assert "preview?kind=cancellation" in site.client.get(path).text
    page = site.client.get(f"{path}/preview?kind=cancellation")
    assert page.status_code == 200 and "Avlyst: Likestilling i kommunen" in page.text
    admin_post(site, f"{path}/cancel", {"confirm": "yes"}, form_page=path)
    assert "preview?kind=cancellation" not in site.client.get(path).text
    assert "?kind=cancellation" not in site.client.get(f"{path}/preview").text


def test_the_operators_link_sees_every_series(settings: BotSettings, clock: ManualClock) -> None:
    with open_web(settings, clock) as web:
        with web.app.db.transaction() as s:
            ctx = Ctx(s, ORGANISER, web.app.clock.now(), web.app.config)
            create_series(ctx, "verdensmaal", "Verdensmålsnetværk", "da", "Europe/Copenhagen")
        answer = use_link(web, sign_in_link(web, "drift@kommune.no", operator=True))
        assert answer.status_code == 303
        home = web.client.get("/admin")
        assert "Verdensmålsnetværk" in home.text and "Bærekraftsfredag" in home.text
        assert web.client.get("/admin/s/verdensmaal").status_code == 200
