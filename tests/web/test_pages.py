"""The public pages: index, next session and archive, the calendar feed, languages, escaping, headers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from bot.clock import ManualClock
from bot.commands import SessionFields
from bot.entry.settings import BotSettings
from bot.services.context import Ctx
from bot.services.links import add_link
from bot.services.series import resolve_series
from bot.services.sessions import add_session, cancel_session
from tests.conftest import ORGANISER
from tests.web.support import SLUG, Web, add_a_session, h1, open_web

PAGE = f"/s/{SLUG}"
FEED = f"/s/{SLUG}/calendar.ics"
SCRIPT = "<script>alert(1)</script>"
TOKEN = "operator-health-token-0123456789"
OPERATOR = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        yield made


@pytest.fixture
def operated(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    """The site of a bot with HEALTH_TOKEN set."""
    with open_web(replace(settings, health_token=TOKEN), clock) as made:
        yield made


@pytest.fixture
def planned(site: Web) -> dict[str, int]:
    """A held session with slides, the next one with a join link, and a cancelled one after it."""
    held = add_a_session(
        site.app,
        "Sirkulær økonomi",
        datetime(2026, 2, 6, 9, 0),
        speakers="Kari Nordmann, Ola Nordmann",
        links=(("Lysark om sirkulærøkonomi", "https://ks.no/lysark.pdf", "Kari Nordmann"),),
    )
    upcoming = add_a_session(
        site.app, "Likestilling i kommunen", datetime(2026, 3, 6, 9, 0), join_url="https://teams.example/j/1"
    )
    cancelled = add_a_session(site.app, "Naturmangfold", datetime(2026, 4, 3, 9, 0))
    with site.app.db.transaction() as s:
        cancel_session(Ctx(s, ORGANISER, site.app.clock.now(), site.app.config), cancelled)
    return {"held": held, "upcoming": upcoming, "cancelled": cancelled}


def test_the_index_lists_every_series(site: Web) -> None:
    page = site.client.get("/")
    assert page.status_code == 200
    assert f'href="/s/{SLUG}"' in page.text
    assert "Bærekraftsfredag" in page.text


def test_the_series_page_shows_the_next_session_in_the_series_zone(
    site: Web, planned: dict[str, int]
) -> None:
    page = site.client.get(PAGE)
    assert page.status_code == 200
    assert h1(page.text) == "Bærekraftsfredag"
    assert "Likestilling i kommunen" in page.text
    assert "fredag 6. mars 2026 kl. 09:00" in page.text
    assert "(Europe/Oslo)" in page.text
    assert 'href="https://teams.example/j/1"' in page.text
    next_card = page.text.split('id="next-title"')[1].split("</section>")[0]
    assert "Naturmangfold" not in next_card, "a cancelled session is not the next one"


def test_the_series_page_lists_the_seasons_programme_in_the_series_zone(
    site: Web, planned: dict[str, int]
) -> None:
    add_a_session(site.app, "Klimatilpasning", datetime(2026, 6, 5, 9, 0), speakers="Per Hansen")
    with site.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, site.app.clock.now(), site.app.config)
        series = resolve_series(ctx, SLUG)
        fields = SessionFields(title="Utkast", start_local=datetime(2026, 5, 8, 9, 0))
        add_session(ctx, series, fields, draft=True)
    programme = site.client.get(PAGE).text.split('id="programme-title"')[1].split("</section>")[0]
    assert programme.index("Likestilling i kommunen") < programme.index("Naturmangfold")
    assert programme.index("Naturmangfold") < programme.index("Klimatilpasning")
    assert "fredag 6. mars 2026 kl. 09:00" in programme
    assert "fredag 5. juni 2026 kl. 09:00" in programme, "summer time: still 09:00 on the wall clock"
    assert "Per Hansen" in programme
    assert "<s>Naturmangfold</s>" in programme and "Avlyst" in programme
    assert "Utkast" not in programme, "a draft is not shown to the public"
    assert "Sirkulær økonomi" not in programme, "a past session belongs in the archive"


def test_the_programme_speaks_each_language(site: Web, planned: dict[str, int]) -> None:
    expected = {
        "en": ("Upcoming sessions", "Cancelled"),
        "da": ("Kommende møder", "Aflyst"),
        "nn": ("Komande økter", "Avlyst"),
        "nb": ("Kommende økter", "Avlyst"),
    }
    for language, (heading, cancelled) in expected.items():
        page = site.client.get(f"{PAGE}?lang={language}").text
        programme = page.split('id="programme-title"')[1].split("</section>")[0]
        assert heading in programme and cancelled in programme


def test_an_empty_programme_says_so(site: Web) -> None:
    page = site.client.get(PAGE).text
    assert "Ingen flere økter er satt opp ennå." in page


def test_the_archive_shows_past_sessions_with_speakers_and_slides(site: Web, planned: dict[str, int]) -> None:
    page = site.client.get(PAGE).text
    archive = page.split('id="archive-title"')[1]
    assert "Sirkulær økonomi" in archive
    assert "fredag 6. februar 2026" in archive
    assert "Kari Nordmann, Ola Nordmann" in archive
    assert '<a href="https://ks.no/lysark.pdf">Lysark om sirkulærøkonomi</a>' in archive
    assert "Likestilling" not in archive


def test_without_a_join_link_the_page_offers_to_subscribe(site: Web) -> None:
    add_a_session(site.app, "Klima", datetime(2026, 3, 6, 9, 0))
    page = site.client.get(PAGE).text
    assert f'href="/s/{SLUG}/subscribe">Meld deg på for å få invitasjonen' in page


def test_user_text_is_escaped(site: Web) -> None:
    add_a_session(
        site.app,
        SCRIPT,
        datetime(2026, 2, 6, 9, 0),
        speakers='"><img src=x onerror=alert(1)>',
        links=((SCRIPT, "https://ks.no/x.pdf?a=1&b=<2>", None),),
    )
    add_a_session(site.app, SCRIPT, datetime(2026, 3, 6, 9, 0))
    page = site.client.get(PAGE).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "a=1&amp;b=&lt;2&gt;" in page


def test_an_unknown_series_gets_a_404_page(site: Web) -> None:
    pages = ("subscribe/sent", "invite", "invite/sent", "leave/sent")
    for path in ("/s/nope", "/s/nope/calendar.ics", *(f"/s/nope/{page}" for page in pages)):
        response = site.client.get(path)
        assert response.status_code == 404
        assert "Fant ikke siden" in h1(response.text)


def test_the_calendar_feed_has_stable_uids_sequence_and_cancellations(
    site: Web, planned: dict[str, int]
) -> None:
    response = site.client.get(FEED)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")
    events = {str(e["UID"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}
    upcoming = events[f"session-{planned['upcoming']}@webinar.example.org"]
    assert upcoming["DTSTART"].dt == datetime(2026, 3, 6, 8, 0, tzinfo=UTC)
    assert b"DTSTART:20260306T080000Z" in response.content
    assert str(upcoming["STATUS"]) == "CONFIRMED"
    assert int(upcoming["SEQUENCE"]) == 0
    assert str(upcoming["SUMMARY"]) == "Likestilling i kommunen"
    cancelled = events[f"session-{planned['cancelled']}@webinar.example.org"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert int(cancelled["SEQUENCE"]) == 1
    held = events[f"session-{planned['held']}@webinar.example.org"]
    assert held["DTSTART"].dt == datetime(2026, 2, 6, 8, 0, tzinfo=UTC)
    # The same request again gives the same UIDs.
    again = Calendar.from_ical(site.client.get(FEED).content).walk("VEVENT")
    assert {str(e["UID"]) for e in again} == set(events)


def test_the_feed_conforms_to_publish_with_an_organizer_and_a_ttl_duration(
    site: Web, planned: dict[str, int]
) -> None:
    body = site.client.get(FEED).content
    # RFC 5545 durations (X-PUBLISHED-TTL is read as one by Outlook), not Python's "1:00:00".
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in body and b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in body
    # RFC 5546 3.2.1: METHOD:PUBLISH requires ORGANIZER in every VEVENT.
    calendar = Calendar.from_ical(body)
    assert str(calendar["METHOD"]) == "PUBLISH"
    events = calendar.walk("VEVENT")
    assert events and all("ORGANIZER" in event for event in events)
    organizer = events[0]["ORGANIZER"]
    assert str(organizer) == f"https://webinar.example.org/s/{SLUG}"
    assert organizer.params["CN"] == "Bærekraftsfredag"


def test_the_feed_leaves_out_sessions_older_than_a_month(site: Web) -> None:
    add_a_session(site.app, "Gammel økt", datetime(2026, 1, 9, 9, 0))
    assert b"Gammel" not in site.client.get(FEED).content


def test_the_page_links_the_feed_for_webcal(site: Web) -> None:
    page = site.client.get(PAGE).text
    assert 'href="webcal://webinar.example.org/s/baerekraftsfredag/calendar.ics"' in page
    assert 'href="https://webinar.example.org/s/baerekraftsfredag/calendar.ics"' in page


def test_without_public_base_url_the_uid_host_is_the_bots_name(
    settings: BotSettings, clock: ManualClock
) -> None:
    with open_web(settings, clock, public_base_url=None) as site:
        session_id = add_a_session(site.app, "Klima", datetime(2026, 3, 6, 9, 0))
        body = site.client.get(FEED).content
    assert f"UID:session-{session_id}@baerekraft-bot".encode() in body


def test_english_by_accept_language(site: Web) -> None:
    page = site.client.get(PAGE, headers={"accept-language": "en-GB,en;q=0.9,nb;q=0.5"})
    assert '<html lang="en">' in page.text
    assert "Past sessions" in page.text
    nynorsk = site.client.get(PAGE, headers={"accept-language": "nn-NO,en;q=0.5"})
    assert '<html lang="nn">' in nynorsk.text


def test_the_language_switch_is_remembered(site: Web) -> None:
    page = site.client.get(PAGE)
    assert f'href="{PAGE}?lang=en"' in page.text
    switched = site.client.get(f"{PAGE}?lang=en")
    assert '<html lang="en">' in switched.text
    assert f'href="{PAGE}?lang=nb"' in switched.text
    assert '<html lang="en">' in site.client.get("/erase").text, "the choice sticks (cookie)"
    assert '<html lang="en">' in site.client.get("/", headers={"accept-language": "nb"}).text


def test_pages_send_security_headers_and_no_external_resources(site: Web) -> None:
    page = site.client.get(PAGE)
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<link rel="stylesheet" href="/static/web.css">' in page.text
    assert "<script" not in page.text
    css = site.client.get("/static/web.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]
    assert "@import" not in css.text and "url(" not in css.text


def test_the_csrf_cookie_is_http_only_and_same_site(site: Web) -> None:
    cookie = site.client.get(f"/s/{SLUG}/subscribe").headers["set-cookie"]
    assert cookie.startswith("csrf=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie


def test_healthz_tells_anyone_only_that_the_bot_is_alive(site: Web) -> None:
    for headers in ({}, {"authorization": "Bearer wrong-token-0123456789"}, {"authorization": "Basic x"}):
        response = site.client.get("/healthz", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}  # no channels, no problems: nothing to learn


def test_healthz_reports_the_database_and_the_channels_to_operators(operated: Web) -> None:
    response = operated.client.get("/healthz", headers=OPERATOR)
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["channels"] == {"slack": "off", "microsoft365": "off", "smtp": "off", "web": "on"}
    assert (body["status"], "problems" in body) == ("ok", False)


def test_healthz_names_what_failed_lately_without_asking_for_a_restart(operated: Web) -> None:
    try:
        raise ConnectionResetError("peer reset while mailing kari@kommune.no")
    except ConnectionResetError as exc:
        operated.app.errors.unexpected("sender email", exc, delivery=3)
    assert operated.client.get("/healthz").json() == {"status": "ok"}  # the public sees no problems
    response = operated.client.get("/healthz", headers=OPERATOR)
    assert response.status_code == 200  # the bot still works: nothing for a service manager to restart
    body = response.json()
    assert body["status"] == "degraded"
    assert body["problems"]["sender email"]["failures"] == 1
    assert (
        body["problems"]["sender email"]["error"]
        == "ConnectionResetError: peer reset while mailing <address>"
    )


def test_healthz_is_503_when_the_database_is_unreachable(
    sqlite_template: Path, tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "bot.db"
    shutil.copy(sqlite_template, path)
    settings = BotSettings(
        database_url=f"sqlite:///{path}", secret_key="test-secret-key-0123456789", health_token=TOKEN
    )
    with open_web(settings, clock) as web:
        web.app.db.engine.dispose()
        path.unlink()
        path.mkdir()  # where the database was, SQLite can open nothing now
        public = web.client.get("/healthz")
        assert (public.status_code, public.json()) == (503, {"status": "unavailable"})
        detailed = web.client.get("/healthz", headers=OPERATOR)
        assert detailed.status_code == 503
        assert (detailed.json()["status"], detailed.json()["database"]) == ("degraded", "unreachable")


# --- headers on every answer ----------------------------------------------------------------------

ANSWERS = [
    ("GET", "/healthz", 200),
    ("GET", "/static/web.css", 200),
    ("GET", "/static/nothing.css", 404),
    ("GET", "/nowhere", 404),
    ("POST", "/healthz", 405),
    ("GET", f"/s/{SLUG}", 200),
    ("GET", "/s/%00", 400),
]


@pytest.mark.parametrize(("method", "path", "status"), ANSWERS)
def test_every_answer_carries_the_security_headers(site: Web, method: str, path: str, status: int) -> None:
    response = site.client.request(method, path)
    assert response.status_code == status
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["strict-transport-security"] == "max-age=31536000"  # served over https


def test_a_refused_body_carries_the_security_headers_too(site: Web) -> None:
    response = site.client.post("/healthz", content=b"x" * 1_000_001)
    assert response.status_code == 413
    assert response.headers["x-frame-options"] == "DENY"


def test_no_hsts_when_not_served_over_https(settings: BotSettings, clock: ManualClock) -> None:
    with open_web(settings, clock, public_base_url="http://localhost:8000") as web:
        response = web.client.get("/healthz")
        assert "strict-transport-security" not in response.headers
        assert response.headers["x-frame-options"] == "DENY"


def test_the_archive_shows_a_recording_first_with_its_captions_note(site: Web) -> None:
    held = add_a_session(
        site.app,
        "Sirkulær økonomi",
        datetime(2026, 2, 6, 9, 0),
        links=(("Lysark", "https://ks.no/lysark.pdf", None),),
    )
    with site.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, site.app.clock.now(), site.app.config)
        add_link(ctx, held, "https://video.example/opptak", "Opptak av økta", None, "recording")
    archive = site.client.get(PAGE).text.split('id="archive-title"')[1]
    recording = archive.index('<a href="https://video.example/opptak">Opptak av økta</a>')
    assert recording < archive.index('<a href="https://ks.no/lysark.pdf">')
    assert "<strong>Opptak:</strong>" in archive and "Opptaket har automatisk teksting." in archive
    english = site.client.get(PAGE, headers={"accept-language": "en"}).text
    assert "The recording has automatic captions." in english
