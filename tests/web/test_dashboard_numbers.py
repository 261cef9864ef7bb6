"""The session page's numbers (the ones `antall ID` and `sessions show ID` give) and the link form's
type: a recording added from the dashboard is stored as one and listed first; an unknown type is
refused in the form with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import select, update

from bot.clock import ManualClock
from bot.commands import Subscribe
from bot.delivery.operations import send_now
from bot.entry.settings import BotSettings
from bot.models import Delivery, PresentationLink
from bot.services.attendance import record_attendance
from bot.services.context import Ctx
from handlers.smtp.settings import SmtpSettings
from tests.conftest import ORGANISER, person
from tests.web.dashboard_support import admin_post, make_organiser, sign_in
from tests.web.support import SLUG, Web, add_a_session, open_web

START = datetime(2026, 3, 13, 9, 0)  # a Friday, local time in Oslo


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        make_organiser(made)
        sign_in(made)
        yield made


@pytest.fixture
def mailing(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    relay = SmtpSettings(host="127.0.0.1", sender="webinar@kommune.no", port=1)
    with open_web(replace(settings, smtp=relay), clock) as made:
        make_organiser(made)
        sign_in(made)
        yield made


def section(html: str, title_id: str) -> str:
    return html.split(f'id="{title_id}"', 1)[1].split("</section>", 1)[0]


def test_the_session_page_shows_its_numbers_with_a_delivered_message_counted(mailing: Web) -> None:
    site = mailing
    sid = add_a_session(site.app, "Likestilling i kommunen", START)
    path = f"/admin/sessions/{sid}"
    before = section(site.client.get(path).text, "numbers-title")
    assert "Ingen ennå, invitasjonen er ikke sendt" in before
    assert "Økten er ikke holdt ennå" in before

    for address in ("ola@kommune.no", "kari.nordmann@kommune.no"):
        site.app.dispatcher.execute(person(address), Subscribe(series=SLUG))
    with site.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, site.app.clock.now(), site.app.config)
        ids = send_now(ctx, site.app.delivery.planner, sid, "invitation")
        s.execute(update(Delivery).where(Delivery.id == ids[0]).values(state="sent"))
        s.execute(update(Delivery).where(Delivery.id.in_(ids[1:])).values(state="failed"))
    assert len(ids) == 2

    numbers = section(site.client.get(path).text, "numbers-title")
    assert "<dt>Invitert</dt>\n  <dd>2" in numbers
    assert "<dt>Nådd i minst én kanal</dt><dd>1</dd>" in numbers
    assert "<dt>Meldt av siden invitasjonen</dt><dd>0</dd>" in numbers
    assert "Per kanal og melding" in numbers
    row = numbers.split("<td>Invitasjon</td>", 1)[1].split("</tr>", 1)[0]
    assert "<td>E-post</td>" in row
    reached_failed_skipped_waiting = "<td>1</td>\n      <td>1</td><td>0</td><td>0</td>"
    assert reached_failed_skipped_waiting in row


def test_attendance_is_not_known_until_a_report_gives_it(site: Web) -> None:
    held = add_a_session(site.app, "Sirkulær økonomi", datetime(2026, 2, 6, 9, 0))
    path = f"/admin/sessions/{held}"
    assert "Ikke kjent ennå" in section(site.client.get(path).text, "numbers-title")
    with site.app.db.transaction() as s:
        now = site.app.clock.now()
        record_attendance(s, ORGANISER, held, 17, source="teams", final=False, now=now)
    numbers = section(site.client.get(path).text, "numbers-title")
    assert "<dt>Deltok</dt>\n  <dd>17" in numbers
    assert "fra deltakerrapporten i Teams, foreløpig" in numbers


def test_a_recording_added_from_the_dashboard_is_stored_as_one_and_listed_first(site: Web) -> None:
    sid = add_a_session(site.app, "Likestilling", START)
    path = f"/admin/sessions/{sid}"
    form = site.client.get(path).text
    assert 'name="link_kind" value="slides" checked' in form and "Lysark" in form and "Opptak" in form
    slides = {"link_title": "Lysarkene", "link_url": "https://ks.no/lysark.pdf"}
    assert admin_post(site, f"{path}/links", slides, form_page=path).status_code == 303
    recording = {"link_title": "Hele økten", "link_url": "https://ks.no/opptak.mp4", "link_kind": "recording"}
    assert admin_post(site, f"{path}/links", recording, form_page=path).status_code == 303

    with site.app.db.read() as s:
        kinds = {link.url: link.kind for link in s.scalars(select(PresentationLink))}
    assert kinds == {"https://ks.no/lysark.pdf": "slides", "https://ks.no/opptak.mp4": "recording"}
    links = section(site.client.get(path).text, "links-title")
    assert links.index("https://ks.no/opptak.mp4") < links.index("https://ks.no/lysark.pdf")
    assert "<strong>Opptak:</strong>" in links
    assert "Opptaket har automatisk teksting." in links


def test_an_unknown_link_type_is_refused_in_the_form_and_nothing_is_stored(site: Web) -> None:
    sid = add_a_session(site.app, "Likestilling", START)
    path = f"/admin/sessions/{sid}"
    bogus = {"link_title": "Noe", "link_url": "https://ks.no/noe", "link_kind": "podcast"}
    answer = admin_post(site, f"{path}/links", bogus, form_page=path)
    assert 400 <= answer.status_code < 500
    assert "Velg om lenken er lysark eller opptak." in answer.text
    with site.app.db.read() as s:
        assert s.scalars(select(PresentationLink)).all() == []


@pytest.mark.parametrize(
    ("lang", "numbers", "recording", "captions"),
    [
        ("nb", "Tall for økten", "Opptak", "Opptaket har automatisk teksting."),
        ("nn", "Tal for økta", "Opptak", "Opptaket har automatisk teksting."),
        ("da", "Tal for mødet", "Optagelse", "Optagelsen har automatiske undertekster."),
        ("en", "Numbers for the session", "Recording", "The recording has automatic captions."),
    ],
)
def test_the_numbers_and_link_types_are_worded_in_each_language(
    site: Web, lang: str, numbers: str, recording: str, captions: str
) -> None:
    sid = add_a_session(site.app, "Likestilling", START)
    path = f"/admin/sessions/{sid}"
    added = {"link_title": "Opptaket", "link_url": "https://ks.no/o.mp4", "link_kind": "recording"}
    assert admin_post(site, f"{path}/links", added, form_page=path).status_code == 303
    page = site.client.get(f"{path}?lang={lang}")
    assert page.status_code == 200
    assert numbers in page.text and f"<strong>{recording}:</strong>" in page.text and captions in page.text
