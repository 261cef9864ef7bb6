"""«Bring a colleague»: the form on the series page and `inviter kollega` in chat send the colleague
one mail naming the inviter, with the usual double opt-in link; limits per inviter and per address,
and answers that never tell whether an address is known."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Actor, ForgetMe, Subscribe
from bot.entry.settings import BotSettings
from bot.models import AuditEvent
from bot.parser import parse
from tests.conftest import person
from tests.web.support import SLUG, Web, add_person, h1, is_active, open_web, person_by_email

FORM = f"/s/{SLUG}/invite"
SENT = f"/s/{SLUG}/invite/sent"
INVITER = {"name": "Kari Nordmann", "email": "kari@kommune.no"}


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        yield made


def invite(site: Web, colleague: str, **inviter: str) -> object:
    return site.post_form(FORM, {**INVITER, **inviter, "colleague": colleague})


def mails_to(site: Web, address: str) -> int:
    return sum(1 for mail in site.mailbox.sent if mail.to == address)


def audited(site: Web) -> list[dict[str, object]]:
    with site.app.db.read() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == "colleague.invited"))
        return [dict(row.details) for row in rows]


def test_the_series_page_links_the_form_and_the_form_has_labelled_fields(site: Web) -> None:
    assert f'href="{FORM}"' in site.client.get(f"/s/{SLUG}").text
    page = site.client.get(FORM)
    assert page.status_code == 200
    assert "Inviter en kollega til Bærekraftsfredag" in h1(page.text)
    for field in ("name", "email", "colleague"):
        assert f'<label for="{field}">' in page.text


def test_the_colleague_gets_one_mail_and_is_subscribed_only_after_their_own_confirmation(site: Web) -> None:
    answer = invite(site, "ola@kommune.no")
    assert answer.status_code == 303 and answer.headers["location"] == SENT  # type: ignore[attr-defined]
    [mail] = site.mailbox.sent
    assert mail.to == "ola@kommune.no"
    assert mail.subject == "Kari Nordmann inviterer deg til Bærekraftsfredag"
    assert "Kari Nordmann (kari@kommune.no)" in mail.text
    assert "Kari Nordmann (kari@kommune.no)" in (mail.html or "")
    assert person_by_email(site.app, "ola@kommune.no") is None
    assert person_by_email(site.app, "kari@kommune.no") is None, (
        "an address typed into a form vouches for nobody"
    )

    path = site.mailbox.link("/confirm/")
    assert site.client.get(path).status_code == 200
    assert not is_active(site.app, "ola@kommune.no"), "opening the link (a mail scanner) subscribes nobody"
    done = site.post_form(path, {})
    assert done.status_code == 200
    assert is_active(site.app, "ola@kommune.no")
    assert audited(site) == [{"mailed": True}]


def test_the_sent_page_says_the_same_whether_or_not_a_mail_went(site: Web) -> None:
    add_person(site.app, "per@kommune.no")
    fresh = site.client.get(invite(site, "ola@kommune.no").headers["location"]).text  # type: ignore[attr-defined]
    known = site.client.get(invite(site, "per@kommune.no").headers["location"]).text  # type: ignore[attr-defined]
    assert fresh == known
    assert "Takk for at du sprer ordet" in h1(fresh)
    assert mails_to(site, "ola@kommune.no") == 1
    assert mails_to(site, "per@kommune.no") == 0, "a subscriber is not invited again"


def test_no_mail_to_an_address_that_left_or_was_erased(site: Web) -> None:
    add_person(site.app, "per@kommune.no", subscribed=False)
    gone = person("lise@kommune.no")
    site.app.dispatcher.execute(gone, Subscribe(series=SLUG))
    site.app.dispatcher.execute(gone, ForgetMe(confirmed=True))
    for address in ("per@kommune.no", "lise@kommune.no"):
        assert invite(site, address).headers["location"] == SENT  # type: ignore[attr-defined]
    assert [mail.to for mail in site.mailbox.sent if "inviterer" in mail.subject] == []
    assert audited(site) == [{"mailed": False}, {"mailed": False}]


def test_one_invitation_per_address_and_series_in_thirty_days(site: Web, clock: ManualClock) -> None:
    invite(site, "ola@kommune.no")
    invite(site, "OLA@kommune.no", name="Per Hansen", email="per@kommune.no")
    assert mails_to(site, "ola@kommune.no") == 1
    clock.advance(timedelta(days=29))
    invite(site, "ola@kommune.no", name="Per Hansen", email="per@kommune.no")
    assert mails_to(site, "ola@kommune.no") == 1
    clock.advance(timedelta(days=2))
    invite(site, "ola@kommune.no", name="Per Hansen", email="per@kommune.no")
    assert mails_to(site, "ola@kommune.no") == 2


def test_an_inviter_may_send_five_a_day(site: Web, clock: ManualClock) -> None:
    for number in range(5):
        assert invite(site, f"kollega{number}@kommune.no").status_code == 303  # type: ignore[attr-defined]
    refused = invite(site, "kollega5@kommune.no")
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert "Du har sendt mange invitasjoner" in h1(refused.text)  # type: ignore[attr-defined]
    assert mails_to(site, "kollega5@kommune.no") == 0
    clock.advance(timedelta(days=1, minutes=1))
    assert invite(site, "kollega5@kommune.no").status_code == 303  # type: ignore[attr-defined]
    assert mails_to(site, "kollega5@kommune.no") == 1


def test_the_daily_limit_is_a_setting(settings: BotSettings, clock: ManualClock) -> None:
    with open_web(replace(settings, colleague_invites_per_day=1), clock) as site:
        assert invite(site, "a@kommune.no").status_code == 303  # type: ignore[attr-defined]
        assert invite(site, "b@kommune.no").status_code == 429  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"colleague": "ola@"}, "colleague", "Skriv inn én gyldig e-postadresse til kollegaen din"),
        ({"colleague": ""}, "colleague", "Skriv inn e-postadressen til kollegaen din."),
        ({"email": "kari"}, "email", "Skriv inn én gyldig e-postadresse"),
        ({"name": ""}, "name", "Skriv inn navnet ditt"),
        ({"name": "Vinn premie på https://svindel.example"}, "name", "lenker"),
        ({"name": "Kari\nBcc: x@y.no"}, "name", "linjeskift"),
    ],
)
def test_bad_input_gets_the_form_again_with_a_clear_message(
    site: Web, fields: dict[str, str], field: str, message: str
) -> None:
    page = site.post_form(FORM, {**INVITER, "colleague": "ola@kommune.no", **fields})
    assert page.status_code == 400
    assert f'id="{field}-error"' in page.text
    assert message in page.text
    assert site.mailbox.sent == []


def test_the_inviters_name_is_escaped_in_the_mail(site: Web) -> None:
    invite(site, "ola@kommune.no", name="<b>Kari</b> & Co")
    [mail] = site.mailbox.sent
    assert "&lt;b&gt;Kari&lt;/b&gt; &amp; Co" in (mail.html or "")
    assert "<b>Kari" not in (mail.html or "")


def test_a_form_without_csrf_or_with_the_honeypot_sends_nothing(site: Web) -> None:
    refused = site.client.post(FORM, data={**INVITER, "colleague": "ola@kommune.no"}, follow_redirects=False)
    assert refused.status_code == 403
    trap = site.post_form(FORM, {**INVITER, "colleague": "ola@kommune.no", "website": "x"})
    assert trap.headers["location"] == SENT
    assert site.mailbox.sent == []
    assert audited(site) == []


@pytest.mark.parametrize(
    ("line", "language", "answer"),
    [
        ("inviter kollega ola@kommune.no", "nb", "Kollegaen din får en e-post"),
        ("inviter ein kollega ola@kommune.no", "nn", "Kollegaen din får ein e-post"),
        ("invite colleague ola@kommune.no", "en", "Your colleague will get an e-mail"),
        ("invitér en kollega ola@kommune.no", "da", "Din kollega får en e-mail"),
    ],
)
def test_chat_invites_through_the_dispatcher_in_each_language(
    site: Web, line: str, language: str, answer: str
) -> None:
    actor = Actor("slack", "U123", email="kari@kommune.no", name="Kari Nordmann", language=language)
    reply = site.app.dispatcher.execute(actor, parse(line))
    assert reply.key == "colleague_invited"
    assert answer in site.app.renderer.reply(reply)
    [mail] = site.mailbox.sent
    assert mail.to == "ola@kommune.no"
    assert "Kari Nordmann (kari@kommune.no)" in mail.text
    assert "Hei!" in mail.text, "the mail is in the series' language, whatever the inviter writes"
    assert not is_active(site.app, "ola@kommune.no")


def test_chat_refuses_a_bad_address_and_the_sixth_invitation_of_the_day(site: Web) -> None:
    actor = Actor("slack", "U123", name="Kari Nordmann")
    bad = site.app.renderer.reply(site.app.dispatcher.execute(actor, parse("inviter kollega ola")))
    assert "Slik skriver du det: inviter kollega navn@kommune.no" in bad
    for number in range(5):
        assert site.app.dispatcher.execute(actor, parse(f"inviter kollega k{number}@kommune.no")).key == (
            "colleague_invited"
        )
    sixth = site.app.dispatcher.execute(actor, parse("inviter kollega k5@kommune.no"))
    assert sixth.key == "colleague_limit"
    assert "Du har sendt 5 invitasjoner det siste døgnet" in site.app.renderer.reply(sixth)
    assert mails_to(site, "k5@kommune.no") == 0
    assert all("En kollega" not in mail.subject for mail in site.mailbox.sent)
