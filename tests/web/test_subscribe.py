"""Subscribing on the web: double opt-in, the confirmation link, no enumeration, CSRF and rate limits."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.entry.settings import BotSettings
from bot.mail import MailFailed
from bot.models import AuditEvent, Delivery, Subscription
from handlers.web import pending
from handlers.web.channel import WebChannel
from handlers.web.models import PendingConfirmation
from tests.core.test_erasure import everything_stored
from tests.hostile import HOSTILE
from tests.web.support import SLUG, Web, add_person, h1, is_active, open_web, person_by_email

FORM = f"/s/{SLUG}/subscribe"
SENT = f"/s/{SLUG}/subscribe/sent"


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        yield made


def confirm_path(site: Web) -> str:
    return site.mailbox.link("/confirm/")


def test_the_form_has_labelled_fields_in_norwegian_by_default(site: Web) -> None:
    page = site.client.get(FORM)
    assert page.status_code == 200
    assert '<html lang="nb">' in page.text
    for field in ("email", "name"):
        assert f'<label for="{field}">' in page.text
        assert f'id="{field}"' in page.text
    assert 'type="radio" id="language-nb" name="language" value="nb" checked' in page.text
    assert "Meld deg på Bærekraftsfredag" in h1(page.text)


def test_double_opt_in_subscribes_only_after_the_confirmation(site: Web) -> None:
    sent = site.subscribe("kari@kommune.no", name="Kari", language="en")
    assert sent.status_code == 303
    assert sent.headers["location"] == SENT
    # Only the confirmed address becomes a person with an e-mail (the trust rule).
    assert person_by_email(site.app, "kari@kommune.no") is None
    [mail] = site.mailbox.sent
    assert mail.to == "kari@kommune.no"
    assert "Bærekraftsfredag" in mail.subject
    path = confirm_path(site)

    shown = site.client.get(path)
    assert shown.status_code == 200
    assert "k***@kommune.no" in shown.text
    assert not is_active(site.app, "kari@kommune.no"), "opening the link must not subscribe"

    done = site.post_form(path, {})
    assert done.status_code == 200
    assert "Du er påmeldt" in h1(done.text) or "You are subscribed" in h1(done.text)
    assert is_active(site.app, "kari@kommune.no")
    person = person_by_email(site.app, "kari@kommune.no")
    assert person is not None
    assert (person.name, person.language) == ("Kari", "en")
    with site.app.db.read() as s:
        sub = s.scalar(select(Subscription).where(Subscription.person_id == person.id))
        assert sub is not None and sub.source_channel == "email"


def test_a_repeated_confirmation_is_harmless_and_says_so(site: Web) -> None:
    site.subscribe("kari@kommune.no")
    path = confirm_path(site)
    first = site.post_form(path, {})
    again = site.post_form(path, {})
    assert first.status_code == again.status_code == 200
    assert "allerede bekreftet" in h1(again.text)
    assert "allerede bekreftet" in h1(site.client.get(path).text)
    with site.app.db.read() as s:
        created = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "subscription.created")
        )
        [row] = s.scalars(select(PendingConfirmation))
    assert created == 1
    assert row.confirmed_at is not None
    assert row.email is None, "a used request forgets the address"


def test_confirming_when_already_subscribed_says_so(site: Web) -> None:
    add_person(site.app, "kari@kommune.no")
    site.subscribe("kari@kommune.no")
    done = site.post_form(confirm_path(site), {})
    assert done.status_code == 200
    assert "allerede påmeldt" in h1(done.text)


def test_an_expired_link_gets_410_and_a_way_to_start_again(site: Web, clock: ManualClock) -> None:
    site.subscribe("kari@kommune.no")
    path = confirm_path(site)
    clock.advance(timedelta(days=3, minutes=1))
    for response in (site.client.get(path), site.post_form(path, {}, form_page=FORM)):
        assert response.status_code == 410
        assert "utløpt" in h1(response.text)
        assert f'href="{FORM}"' in response.text
    assert not is_active(site.app, "kari@kommune.no")


def test_a_link_still_works_just_before_three_days(site: Web, clock: ManualClock) -> None:
    site.subscribe("kari@kommune.no")
    clock.advance(timedelta(days=3) - timedelta(minutes=1))
    assert site.post_form(confirm_path(site), {}).status_code == 200
    assert is_active(site.app, "kari@kommune.no")


@pytest.mark.parametrize(
    "damage",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: ("y" if token.startswith("x") else "x") + token[1:],
        lambda token: token.split(".")[0],
        lambda token: "not-a-token",
    ],
    ids=["signature", "key", "no-signature", "garbage"],
)
def test_a_tampered_link_gets_400_never_500(site: Web, damage: object) -> None:
    site.subscribe("kari@kommune.no")
    token = confirm_path(site).removeprefix("/confirm/")
    path = "/confirm/" + damage(token)  # type: ignore[operator]
    for response in (site.client.get(path), site.post_form(path, {}, form_page=FORM)):
        assert response.status_code == 400
        assert "virker ikke" in h1(response.text)
        assert "Start på nytt" in response.text
    assert not is_active(site.app, "kari@kommune.no")


def test_a_link_signed_with_another_key_is_refused(settings: BotSettings, clock: ManualClock) -> None:
    with open_web(settings, clock) as first:
        first.subscribe("kari@kommune.no")
        path = confirm_path(first)
    other = BotSettings(database_url=settings.database_url, secret_key="another-secret-key-987654321")
    with open_web(other, clock) as second:
        assert second.client.get(path).status_code == 400


def test_the_answer_is_the_same_for_known_and_unknown_addresses(site: Web) -> None:
    add_person(site.app, "known@kommune.no")
    add_person(site.app, "left@kommune.no", subscribed=False)
    answers = []
    for email in ("known@kommune.no", "left@kommune.no", "new@kommune.no"):
        posted = site.subscribe(email)
        page = site.client.get(posted.headers["location"])
        answers.append((posted.status_code, posted.headers["location"], page.status_code, page.text))
    assert answers[0] == answers[1] == answers[2]
    assert [m.to for m in site.mailbox.sent] == ["known@kommune.no", "left@kommune.no", "new@kommune.no"]
    assert len({m.subject for m in site.mailbox.sent}) == 1


def test_no_address_in_any_link_of_the_mail(site: Web) -> None:
    email = "kari.nordmann@kommune.no"
    site.subscribe(email)
    encodings = {
        email,
        "kari.nordmann",
        "kari.nordmann%40kommune.no",
        base64.urlsafe_b64encode(email.encode()).decode().rstrip("="),
        base64.b64encode(email.encode()).decode().rstrip("="),
    }
    links = site.mailbox.links()
    assert links
    for link in links:
        assert "@" not in link
        for form in encodings:
            assert form not in link


def test_the_mail_carries_no_text_typed_into_the_form(site: Web) -> None:
    site.subscribe("kari@kommune.no", name="Win a prize at http://evil.example")
    [mail] = site.mailbox.sent
    assert "evil" not in mail.text
    assert "evil" not in (mail.html or "")
    assert "prize" not in mail.subject


def test_a_post_without_csrf_gets_403_and_sends_nothing(site: Web) -> None:
    data = {"email": "kari@kommune.no", "name": "Kari", "language": "nb"}
    missing = site.client.post(FORM, data=data, follow_redirects=False)
    assert missing.status_code == 403
    site.client.get(FORM)  # now with a cookie, but a forged field
    forged = site.client.post(FORM, data={**data, "csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert site.mailbox.sent == []


def test_a_csrf_field_from_another_browser_is_refused(
    site: Web, settings: BotSettings, clock: ManualClock
) -> None:
    with open_web(settings, clock) as attacker:
        stolen = attacker.csrf(FORM)
    site.client.get(FORM)
    data = {"email": "kari@kommune.no", "language": "nb", "csrf": stolen}
    assert site.client.post(FORM, data=data, follow_redirects=False).status_code == 403


def test_confirming_needs_csrf_too(site: Web) -> None:
    site.subscribe("kari@kommune.no")
    response = site.client.post(confirm_path(site), data={})
    assert response.status_code == 403
    assert not is_active(site.app, "kari@kommune.no")


def test_too_many_mails_to_one_address_get_429(settings: BotSettings, clock: ManualClock) -> None:
    with open_web(settings, clock, mails_per_address_per_hour=3, mails_per_client_per_hour=20) as site:
        for _ in range(3):
            assert site.subscribe("kari@kommune.no").status_code == 303
        blocked = site.subscribe("KARI@kommune.no ")
        assert blocked.status_code == 429
        assert "For mange forsøk" in h1(blocked.text)
        assert len(site.mailbox.sent) == 3
        assert site.subscribe("ola@kommune.no").status_code == 303, "another address is not blocked"
        clock.advance(timedelta(hours=1, seconds=1))
        assert site.subscribe("kari@kommune.no").status_code == 303


def test_too_many_mails_from_one_client_get_429(settings: BotSettings, clock: ManualClock) -> None:
    with open_web(settings, clock, mails_per_address_per_hour=3, mails_per_client_per_hour=2) as site:
        assert site.subscribe("a@kommune.no").status_code == 303
        assert site.subscribe("b@kommune.no").status_code == 303
        assert site.subscribe("c@kommune.no").status_code == 429
        assert [m.to for m in site.mailbox.sent] == ["a@kommune.no", "b@kommune.no"]


def test_the_limit_holds_across_processes(settings: BotSettings, clock: ManualClock) -> None:
    """Two app instances on one database (two bot processes) share the count."""
    with (
        open_web(settings, clock, mails_per_address_per_hour=2) as one,
        open_web(settings, clock, mails_per_address_per_hour=2) as two,
    ):
        assert one.subscribe("kari@kommune.no").status_code == 303
        assert two.subscribe("kari@kommune.no").status_code == 303
        assert one.subscribe("kari@kommune.no").status_code == 429


@pytest.mark.parametrize(
    ("email", "message"),
    [("", "Skriv inn e-postadressen din."), ("not-an-address", "Skriv inn én gyldig e-postadresse")],
)
def test_a_bad_address_gets_400_with_the_form_and_a_clear_message(
    site: Web, email: str, message: str
) -> None:
    response = site.subscribe(email, name="<b>Kari</b>")
    assert response.status_code == 400
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="&lt;b&gt;Kari&lt;/b&gt;"' in response.text, "the form keeps what was typed, escaped"
    assert site.mailbox.sent == []


@pytest.mark.parametrize("email", HOSTILE)
def test_a_hostile_address_gets_400_and_nothing_is_stored_or_sent(site: Web, email: str) -> None:
    response = site.subscribe(email)
    assert response.status_code == 400
    assert "Skriv inn én gyldig e-postadresse" in response.text
    assert "\x00" not in response.text
    assert site.mailbox.sent == []
    with site.app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(PendingConfirmation)) == 0


def test_the_address_is_refused_in_english_too(site: Web) -> None:
    response = site.post_form(f"{FORM}?lang=en", {"email": "x0,victim@x.no", "language": "en"})
    assert response.status_code == 400
    assert "Enter one valid e-mail address" in response.text


def test_a_name_with_control_characters_gets_400(site: Web) -> None:
    response = site.subscribe("kari@kommune.no", name="Ka\x00ri")
    assert response.status_code == 400
    assert "Navnet kan ikke ha linjeskift eller kontrolltegn" in response.text
    assert site.mailbox.sent == []


def test_one_address_written_two_ways_is_one_request_in_its_one_form(site: Web) -> None:
    assert site.subscribe(" Kari@Kommune.NO ").status_code == 303
    assert [mail.to for mail in site.mailbox.sent] == ["kari@kommune.no"]


def test_a_bad_language_gets_400(site: Web) -> None:
    response = site.post_form(FORM, {"email": "kari@kommune.no", "language": "de"})
    assert response.status_code == 400
    assert "Velg språk" in response.text


def test_the_honeypot_gets_the_usual_answer_but_no_mail(site: Web) -> None:
    response = site.post_form(FORM, {"email": "kari@kommune.no", "language": "nb", "website": "spam"})
    assert response.status_code == 303
    assert response.headers["location"] == SENT
    assert site.mailbox.sent == []


def test_an_unknown_series_gets_a_404_page(site: Web) -> None:
    for response in (
        site.client.get("/s/nope/subscribe"),
        site.post_form("/s/nope/subscribe", {}, form_page=FORM),
    ):
        assert response.status_code == 404
        assert "Fant ikke siden" in h1(response.text)


def test_a_malformed_or_oversized_body_gets_a_page_not_a_500(site: Web) -> None:
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=x"):
        broken = site.client.post(FORM, content=b"garbage", headers={"content-type": content_type})
        assert broken.status_code == 400
        assert "Noe var galt med forespørselen" in h1(broken.text)
    huge = site.client.post(FORM, data={"email": "a@b.no", "name": "x" * 20_000})
    assert huge.status_code == 413


def test_the_page_answers_at_once_and_a_mail_server_that_is_down_only_delays_the_mail(
    site: Web, clock: ManualClock
) -> None:
    """The request queues the mail and answers; the outbox sends it, retrying while the transport
    is down, and the link in it works when it arrives."""
    site.mailbox.failure = MailFailed("mail server down")
    response = site.subscribe("kari@kommune.no")
    assert (response.status_code, response.headers["location"]) == (303, SENT)
    assert site.mailbox.sent == []
    with site.app.db.read() as s:
        [row] = s.scalars(select(Delivery).where(Delivery.target == "kari@kommune.no")).all()
    assert (row.state, row.attempts, row.priority) == ("pending", 1, 0)
    assert row.last_error is not None and "mail server down" in row.last_error

    site.mailbox.failure = None
    clock.advance(timedelta(seconds=10))
    [mail] = site.mailbox.sent
    assert mail.to == "kari@kommune.no"
    site.post_form(site.mailbox.link("/confirm/"), {})
    assert is_active(site.app, "kari@kommune.no")


def test_a_mail_whose_link_expired_before_it_could_go_is_not_sent(site: Web, clock: ManualClock) -> None:
    site.mailbox.failure = MailFailed("mail server down")
    site.subscribe("kari@kommune.no")
    clock.advance(timedelta(days=3, seconds=1))
    site.mailbox.failure = None
    assert site.mailbox.sent == []
    with site.app.db.read() as s:
        [row] = s.scalars(select(Delivery).where(Delivery.target == "kari@kommune.no")).all()
    assert row.state == "skipped" and row.last_error == "the link in it has expired"


def test_many_sign_ups_at_once_each_answer_without_waiting_for_the_mailbox(site: Web) -> None:
    """Nothing is sent during the requests (the worker sends later, at the mailbox's pace)."""
    for i in range(15):  # within the per-client limit
        assert site.subscribe(f"p{i}@kommune.no").status_code == 303
        assert site.mailbox.delivered == []
    assert sorted(m.to for m in site.mailbox.sent) == sorted(f"p{i}@kommune.no" for i in range(15))


def test_expired_requests_are_deleted_with_their_addresses(site: Web, clock: ManualClock) -> None:
    site.subscribe("kari@kommune.no")
    clock.advance(timedelta(days=3, seconds=1))
    site.subscribe("ola@kommune.no")  # storing a request clears out the expired ones
    with site.app.db.read() as s:
        assert [row.email for row in s.scalars(select(PendingConfirmation))] == ["ola@kommune.no"]
    clock.advance(timedelta(days=4))
    assert pending.purge_expired(site.app.core) == 1


def test_a_sent_confirmation_mail_leaves_the_outbox_with_its_link_within_hours(
    site: Web, clock: ManualClock
) -> None:
    site.subscribe("kari@kommune.no")
    assert len(site.mailbox.sent) == 1
    link = site.mailbox.link("/confirm/")
    web = site.app.channel(WebChannel)
    assert web is not None
    [job] = [j for j in web.jobs() if j.id == "web.purge_confirmations"]
    job.run()
    assert link in everything_stored(site.app), "kept a while, to look into a failure"
    clock.advance(timedelta(hours=1, seconds=1))
    job.run()
    stored = everything_stored(site.app)
    assert link not in stored and "kari@kommune.no" in stored  # the request itself waits for its click
