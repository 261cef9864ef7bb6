"""The web pages in the reader's language: asked for, remembered, or the series' own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest

from bot.clock import ManualClock
from bot.commands import SessionFields
from bot.entry.settings import BotSettings
from bot.services.context import Ctx
from bot.services.series import create_series
from bot.services.sessions import add_session
from tests.conftest import ORGANISER
from tests.web.support import SLUG, Web, h1, open_web, person_by_email

DANISH = "verdensmaal"


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    """The default (bokmål) series, and a Danish one with a session on Friday 6 March 2026."""
    with open_web(settings, clock) as made:
        with made.app.db.transaction() as s:
            ctx = Ctx(s, ORGANISER, made.app.clock.now(), made.app.config)
            series = create_series(ctx, DANISH, "Verdensmålsnetværk", "da", "Europe/Copenhagen")
            fields = SessionFields(title="Cirkulær økonomi", start_local=datetime(2026, 3, 6, 9, 0))
            add_session(ctx, series, fields)
        yield made


def lang(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', html)
    assert found, "page without <html lang>"
    return found.group(1)


def test_a_danish_series_page_is_danish_without_an_accept_language(site: Web) -> None:
    page = site.client.get(f"/s/{DANISH}")
    assert lang(page.text) == "da"
    assert "Næste møde" in page.text and "Tilmeld dig" in page.text
    assert "fredag den 6. marts 2026 kl. 09:00" in page.text
    assert "Meld deg på" not in page.text and "økt" not in page.text


@pytest.mark.parametrize(
    ("header", "slug", "expected"),
    [
        ("sv-SE,sv;q=0.9", DANISH, "da"),  # Swedish: the series' language, not a neighbour's
        ("sv-SE,sv;q=0.9", SLUG, "nb"),
        ("da-DK,da;q=0.9,en;q=0.5", SLUG, "da"),
        ("nn-NO,nb;q=0.8", SLUG, "nn"),
        ("no", DANISH, "nb"),
        ("nb-NO", DANISH, "nb"),
        ("sv, en;q=0.5, da;q=0.9", SLUG, "da"),
        ("de, *;q=0.5", SLUG, "nb"),
    ],
)
def test_the_browser_language_wins_and_an_unknown_one_falls_back_to_the_series(
    site: Web, header: str, slug: str, expected: str
) -> None:
    page = site.client.get(f"/s/{slug}", headers={"accept-language": header})
    assert page.status_code == 200
    assert lang(page.text) == expected


def test_the_switch_offers_every_other_language_in_its_own_name(site: Web) -> None:
    page = site.client.get(f"/s/{DANISH}").text
    switch = re.search(r'<nav class="language-switch" aria-label="Sprog">(.*?)</nav>', page, re.S)
    assert switch, "no language switch"
    links = re.findall(r'<a href="([^"]+)" hreflang="([a-z]+)" lang="[a-z]+">([^<]+)</a>', switch.group(1))
    assert links == [
        (f"/s/{DANISH}?lang=nb", "nb", "Norsk bokmål"),
        (f"/s/{DANISH}?lang=en", "en", "English"),
        (f"/s/{DANISH}?lang=nn", "nn", "Norsk nynorsk"),
    ]
    nynorsk = site.client.get(f"/s/{DANISH}?lang=nn")
    assert lang(nynorsk.text) == "nn" and "Neste økt" in nynorsk.text
    assert "fredag 6. mars 2026 kl. 09:00" in nynorsk.text
    assert lang(site.client.get("/erase").text) == "nn", "the choice sticks (cookie)"
    assert h1(site.client.get("/erase").text) == "Slett opplysingane dine"


def test_the_danish_form_offers_every_language_with_danish_chosen(site: Web) -> None:
    page = site.client.get(f"/s/{DANISH}/subscribe").text
    assert h1(page) == "Tilmeld dig Verdensmålsnetværk"
    choices = re.findall(
        r'value="([a-z]{2})"( checked)?><label for="language-[a-z]+" lang="[a-z]+">([^<]+)<', page
    )
    assert choices == [
        ("nb", "", "Norsk bokmål"),
        ("nn", "", "Norsk nynorsk"),
        ("da", " checked", "Dansk"),
        ("en", "", "English"),
    ]


def test_signing_up_in_danish_gives_a_danish_mail_and_a_danish_subscriber(site: Web) -> None:
    path = f"/s/{DANISH}/subscribe"
    response = site.post_form(path, {"email": "dorte@kommune.dk", "name": "Dorte", "language": "da"})
    assert response.status_code == 303
    mail = site.mailbox.sent[-1]
    assert mail.subject == "Bekræft din tilmelding til Verdensmålsnetværk"
    assert "Hej!" in mail.text and "Linket virker indtil lørdag den 7. marts 2026 kl. 11:00." in mail.text
    assert mail.html is not None and '<html lang="da">' in mail.html
    confirm = site.mailbox.link("/confirm/")
    page = site.post_form(confirm, {})
    assert page.status_code == 200 and h1(page.text) == "Du er tilmeldt Verdensmålsnetværk"
    found = person_by_email(site.app, "dorte@kommune.dk")
    assert found is not None and found.language == "da"


def test_nynorsk_is_taken_on_the_form_and_french_is_not(site: Web) -> None:
    path = f"/s/{SLUG}/subscribe"
    assert site.post_form(path, {"email": "nils@kommune.no", "language": "nn"}).status_code == 303
    assert site.mailbox.sent[-1].subject == "Stadfest påmeldinga til Bærekraftsfredag"
    refused = site.post_form(path, {"email": "fleur@kommune.no", "language": "fr"})
    assert refused.status_code == 400 and "Velg språk" in refused.text


def test_the_index_says_which_series_speaks_another_language(site: Web) -> None:
    page = site.client.get("/").text
    assert lang(page) == "nb"
    assert (
        f'href="/s/{DANISH}" lang="da">Verdensmålsnetværk</a> <span class="muted">(på dansk)</span>' in page
    )
    assert f'href="/s/{SLUG}" lang="nb">Bærekraftsfredag</a></span>' in page
    danish = site.client.get("/", headers={"accept-language": "da"}).text
    assert 'lang="nb">Bærekraftsfredag</a> <span class="muted">(på norsk bokmål)</span>' in danish
    assert "Tilmeld dig" in danish
