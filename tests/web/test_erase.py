"""Erasing one's data from the web (GDPR art. 17): asked by address, confirmed by mail, done by POST."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.entry.settings import BotSettings
from bot.models import Person
from handlers.web.models import PendingConfirmation
from tests.core.test_erasure import everything_stored
from tests.hostile import HOSTILE
from tests.web.support import SLUG, Web, add_person, h1, is_active, open_web, person_by_email

EMAIL = "kari@kommune.no"


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        yield made


def ask(site: Web, email: str = EMAIL) -> str:
    posted = site.post_form("/erase", {"email": email})
    assert posted.status_code == 303
    assert posted.headers["location"] == "/erase/sent"
    return site.mailbox.link("/erase/")


def test_erasing_takes_a_mail_a_look_and_a_press(site: Web) -> None:
    person_id = add_person(site.app, EMAIL)
    path = ask(site)
    assert "slettes" in site.mailbox.sent[-1].subject

    shown = site.client.get(path)
    assert shown.status_code == 200
    assert "k***@kommune.no" in shown.text
    assert person_by_email(site.app, EMAIL) is not None, "opening the link must not erase"

    done = site.post_form(path, {})
    assert done.status_code == 200
    assert "slettet" in h1(done.text)
    assert not is_active(site.app, EMAIL)
    with site.app.db.read() as s:
        erased = s.get(Person, person_id)
        assert erased is not None
        assert (erased.email, erased.name, erased.erased_at is not None) == (None, None, True)
        assert all(row.email is None for row in s.scalars(select(PendingConfirmation)))


def test_erasing_also_drops_a_pending_subscription_of_the_address(site: Web) -> None:
    add_person(site.app, EMAIL)
    site.subscribe(EMAIL)
    path = ask(site)
    site.post_form(path, {})
    with site.app.db.read() as s:
        assert s.scalar(select(PendingConfirmation).where(PendingConfirmation.email == EMAIL)) is None


def test_a_repeated_confirmation_is_harmless(site: Web) -> None:
    add_person(site.app, EMAIL)
    path = ask(site)
    site.post_form(path, {})
    again = site.post_form(path, {}, form_page="/erase")
    assert again.status_code == 200
    assert "allerede brukt" in h1(again.text)
    assert "allerede brukt" in h1(site.client.get(path).text)


def test_an_unknown_address_is_told_there_was_nothing(site: Web) -> None:
    path = ask(site, "stranger@kommune.no")
    done = site.post_form(path, {})
    assert done.status_code == 200
    assert "ingen opplysninger" in h1(done.text)


def test_the_answer_is_the_same_for_known_and_unknown_addresses(site: Web) -> None:
    add_person(site.app, EMAIL)
    answers = []
    for email in (EMAIL, "stranger@kommune.no"):
        posted = site.post_form("/erase", {"email": email})
        page = site.client.get(posted.headers["location"])
        answers.append((posted.status_code, posted.headers["location"], page.status_code, page.text))
    assert answers[0] == answers[1]
    assert [m.to for m in site.mailbox.sent] == [EMAIL, "stranger@kommune.no"]
    assert all("@" not in link for link in site.mailbox.links())


def test_confirming_needs_csrf(site: Web) -> None:
    add_person(site.app, EMAIL)
    path = ask(site)
    assert site.client.post(path, data={}).status_code == 403
    assert person_by_email(site.app, EMAIL) is not None


def test_an_expired_or_tampered_link_changes_nothing(site: Web, clock: ManualClock) -> None:
    add_person(site.app, EMAIL)
    path = ask(site)
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert site.client.get(tampered).status_code == 400
    clock.advance(timedelta(days=4))
    expired = site.post_form(path, {}, form_page="/erase")
    assert expired.status_code == 410
    assert 'href="/erase"' in expired.text
    assert person_by_email(site.app, EMAIL) is not None


def test_a_subscribe_link_is_no_erase_link(site: Web) -> None:
    add_person(site.app, EMAIL)
    site.subscribe(EMAIL)
    token = site.mailbox.link("/confirm/").removeprefix("/confirm/")
    assert site.post_form(f"/erase/{token}", {}, form_page="/erase").status_code == 400
    assert person_by_email(site.app, EMAIL) is not None


def test_the_request_form_checks_the_address_and_csrf(site: Web) -> None:
    bad = site.post_form("/erase", {"email": "nope"})
    assert bad.status_code == 400
    assert 'aria-invalid="true"' in bad.text
    assert site.client.post("/erase", data={"email": EMAIL}).status_code == 403
    assert site.mailbox.sent == []
    assert site.client.get(f"/s/{SLUG}").status_code == 200


def test_the_honeypot_gets_the_usual_answer_but_no_mail(site: Web) -> None:
    trap = site.post_form("/erase", {"email": EMAIL, "website": "http://spam.example"})
    assert trap.status_code == 303 and trap.headers["location"] == "/erase/sent"
    assert site.mailbox.sent == []
    with site.app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(PendingConfirmation)) == 0


@pytest.mark.parametrize("email", HOSTILE)
def test_a_hostile_address_gets_400_and_no_mail(site: Web, email: str) -> None:
    bad = site.post_form("/erase", {"email": email})
    assert bad.status_code == 400
    assert "Skriv inn én gyldig e-postadresse" in bad.text
    assert site.mailbox.sent == []
    with site.app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(PendingConfirmation)) == 0


def test_after_erasing_no_table_holds_the_address_not_even_the_mails_that_carried_the_links(
    site: Web,
) -> None:
    """Signed up on the web (a confirmation mail), then erased by mail link (another): the outbox
    rows of both mails, and their audit rows, go with everything else."""
    address = "kari.nettside@kommune.no"
    site.subscribe(address)
    site.post_form(site.mailbox.link("/confirm/"), {})
    assert is_active(site.app, address)
    site.post_form(ask(site, address), {})
    assert not is_active(site.app, address)
    assert address not in everything_stored(site.app)
