"""Leaving a series without a personal link: the address typed on the series' leave page gets a link
by mail; the link's page has a button; its POST unsubscribes. The same enumeration-safe rules as
subscribing: one answer for every address, the same limits, nothing changed by a GET."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.commands import Subscribe
from bot.entry.settings import BotSettings
from bot.models import AuditEvent, Subscription
from bot.services.context import Ctx
from bot.services.series import create_series
from handlers.web import leave
from handlers.web.models import PendingConfirmation
from tests.conftest import ORGANISER, person
from tests.hostile import HOSTILE
from tests.web.support import SLUG, Web, add_person, h1, is_active, open_web, person_by_email

FORM = f"/s/{SLUG}/leave"
SENT = f"/s/{SLUG}/leave/sent"


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        yield made


def ask(site: Web, email: str, **extra: str) -> object:
    return site.post_form(FORM, {"email": email, **extra})


def leave_link(site: Web) -> str:
    return site.mailbox.link("/leave/")


def audited(site: Web, action: str) -> int:
    with site.app.db.read() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0


def test_the_form_asks_for_the_address_in_the_series_language(site: Web) -> None:
    page = site.client.get(FORM)
    assert page.status_code == 200
    assert '<html lang="nb">' in page.text
    assert "Meld deg av Bærekraftsfredag" in h1(page.text)
    assert '<label for="email">' in page.text
    assert f'action="{FORM}"' in page.text
    assert "<script" not in page.text
    english = site.client.get(FORM, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "Unsubscribe from Bærekraftsfredag" in h1(english.text)


def test_a_subscriber_leaves_by_the_mailed_link_and_the_button(site: Web) -> None:
    add_person(site.app, "kari@kommune.no")
    posted = ask(site, "Kari@Kommune.no")
    assert posted.status_code == 303  # type: ignore[attr-defined]
    assert posted.headers["location"] == SENT  # type: ignore[attr-defined]
    assert is_active(site.app, "kari@kommune.no"), "asking for the link changes nothing"
    [mail] = site.mailbox.sent
    assert mail.to == "kari@kommune.no"
    assert "Bærekraftsfredag" in mail.subject
    path = leave_link(site)

    shown = site.client.get(path)
    assert shown.status_code == 200
    assert "k***@kommune.no" in shown.text
    assert f'action="{path}"' in shown.text
    assert is_active(site.app, "kari@kommune.no"), "opening the link (a mail scanner) must not unsubscribe"

    done = site.post_form(path, {})
    assert done.status_code == 200
    assert "Du er meldt av Bærekraftsfredag" in h1(done.text)
    assert not is_active(site.app, "kari@kommune.no")
    assert audited(site, "subscription.ended") == 1
    person = person_by_email(site.app, "kari@kommune.no")
    assert person is not None
    with site.app.db.read() as s:
        sub = s.scalar(select(Subscription).where(Subscription.person_id == person.id))
        assert sub is not None and sub.unsubscribe_channel == "email"


def test_pressing_the_button_again_is_harmless(site: Web) -> None:
    add_person(site.app, "kari@kommune.no")
    ask(site, "kari@kommune.no")
    path = leave_link(site)
    first = site.post_form(path, {})
    again = site.post_form(path, {})
    assert first.status_code == again.status_code == 200
    assert "meldt av" in h1(again.text)
    assert audited(site, "subscription.ended") == 1
    with site.app.db.read() as s:
        [row] = s.scalars(select(PendingConfirmation))
    assert row.confirmed_at is not None and row.email is None, "a used request forgets the address"


def test_the_answer_and_the_mail_are_the_same_for_every_address(site: Web) -> None:
    add_person(site.app, "known@kommune.no")
    add_person(site.app, "left@kommune.no", subscribed=False)
    answers = []
    for email in ("known@kommune.no", "left@kommune.no", "stranger@kommune.no"):
        posted = ask(site, email)
        page = site.client.get(posted.headers["location"])  # type: ignore[attr-defined]
        answers.append((posted.status_code, posted.headers["location"], page.status_code, page.text))  # type: ignore[attr-defined]
    assert answers[0] == answers[1] == answers[2]
    sent = site.mailbox.sent
    assert [m.to for m in sent] == ["known@kommune.no", "left@kommune.no", "stranger@kommune.no"]
    assert len({m.subject for m in sent}) == 1
    assert person_by_email(site.app, "stranger@kommune.no") is None, "nothing stored about a stranger"


def test_a_stranger_who_presses_the_button_is_told_and_nothing_is_stored(site: Web) -> None:
    ask(site, "stranger@kommune.no")
    done = site.post_form(leave_link(site), {})
    assert done.status_code == 200
    assert "ikke påmeldt" in h1(done.text)
    assert person_by_email(site.app, "stranger@kommune.no") is None
    assert audited(site, "subscription.ended") == 0


def test_only_the_series_of_the_page_is_left(site: Web) -> None:
    with site.app.db.transaction() as s:
        create_series(
            Ctx(s, ORGANISER, site.clock.now(), site.app.config),
            "verdensmaal",
            "Verdensmål",
            "en",
            "Europe/Oslo",
        )
    add_person(site.app, "kari@kommune.no")
    site.app.dispatcher.execute(person("kari@kommune.no"), Subscribe(series="verdensmaal"))
    ask(site, "kari@kommune.no")
    site.post_form(leave_link(site), {})
    assert not is_active(site.app, "kari@kommune.no")
    assert is_active(site.app, "kari@kommune.no", "verdensmaal")
    assert person_by_email(site.app, "kari@kommune.no") is not None, "leaving is not erasing"


def test_the_link_needs_csrf_and_expires_after_three_days(site: Web, clock: ManualClock) -> None:
    add_person(site.app, "kari@kommune.no")
    ask(site, "kari@kommune.no")
    path = leave_link(site)
    assert site.client.post(path, data={}).status_code == 403
    assert is_active(site.app, "kari@kommune.no")
    clock.advance(timedelta(days=3, minutes=1))
    expired = site.post_form(path, {}, form_page=FORM)
    assert expired.status_code == 410
    assert f'href="{FORM}"' in expired.text, "an expired link offers to start again"
    assert is_active(site.app, "kari@kommune.no")


def test_a_damaged_link_gets_400_never_500(site: Web) -> None:
    ask(site, "kari@kommune.no")
    path = leave_link(site)[:-3] + "AAA"
    for response in (site.client.get(path), site.post_form(path, {}, form_page=FORM)):
        assert response.status_code == 400


def test_a_subscribe_link_does_not_unsubscribe_and_the_other_way_round(site: Web) -> None:
    add_person(site.app, "kari@kommune.no")
    site.subscribe("kari@kommune.no")
    confirm = site.mailbox.link("/confirm/")
    token = confirm.removeprefix("/confirm/")
    assert site.post_form(f"/leave/{token}", {}, form_page=FORM).status_code == 400
    assert is_active(site.app, "kari@kommune.no")


def test_a_post_without_csrf_gets_403_and_sends_nothing(site: Web) -> None:
    missing = site.client.post(FORM, data={"email": "kari@kommune.no"}, follow_redirects=False)
    assert missing.status_code == 403
    assert site.mailbox.sent == []


@pytest.mark.parametrize("email", ["", "not an address", "a@b.no, c@d.no", *HOSTILE[:4]])
def test_a_bad_address_gets_400_with_a_clear_message_and_no_mail(site: Web, email: str) -> None:
    answer = ask(site, email)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "Feil:" in answer.text  # type: ignore[attr-defined]
    assert site.mailbox.sent == []


def test_the_honeypot_gets_the_usual_answer_but_no_mail(site: Web) -> None:
    answer = ask(site, "kari@kommune.no", website="http://spam.example")
    assert answer.headers["location"] == SENT  # type: ignore[attr-defined]
    assert site.mailbox.sent == []


def test_leave_mails_share_the_limits_of_the_other_forms(settings: BotSettings, clock: ManualClock) -> None:
    with open_web(settings, clock, mails_per_address_per_hour=2, mails_per_client_per_hour=20) as site:
        assert site.subscribe("kari@kommune.no").status_code == 303
        assert ask(site, "kari@kommune.no").status_code == 303  # type: ignore[attr-defined]
        blocked = ask(site, "KARI@kommune.no")
        assert blocked.status_code == 429  # type: ignore[attr-defined]
        assert len(site.mailbox.sent) == 2
    with open_web(settings, clock, mails_per_address_per_hour=5, mails_per_client_per_hour=1) as site:
        clock.advance(timedelta(hours=2))
        assert ask(site, "a@kommune.no").status_code == 303  # type: ignore[attr-defined]
        assert ask(site, "b@kommune.no").status_code == 429  # type: ignore[attr-defined]


def test_an_unknown_series_gets_a_404_page(site: Web) -> None:
    for response in (site.client.get("/s/nope/leave"), site.post_form("/s/nope/leave", {}, form_page=FORM)):
        assert response.status_code == 404


def test_the_mail_has_the_link_in_text_and_html_and_no_address_in_it(site: Web) -> None:
    ask(site, "kari.nordmann@kommune.no")
    [mail] = site.mailbox.sent
    links = site.mailbox.links(mail)
    assert len(links) >= 2 and len(set(links)) == 1
    assert "@" not in links[0] and "kari" not in links[0]
    assert mail.headers.get("Auto-Submitted") == "auto-generated"


LEAVE_TEMPLATES = (
    "leave.html",
    "leave_sent.html",
    "confirm_leave.html",
    "mail/confirm_leave.txt",
    "mail/confirm_leave.html",
)


@pytest.mark.parametrize("name", LEAVE_TEMPLATES)
def test_every_leave_template_is_written_in_all_four_languages(name: str) -> None:
    root = Path(leave.__file__).resolve().parent / "templates"
    texts = {lang: (root / lang / name).read_text(encoding="utf-8") for lang in ("nb", "en", "da", "nn")}
    assert len(set(texts.values())) == 4, "each language its own text, not a copy"
    for lang, text in texts.items():
        if name.endswith(".html") and not name.startswith("mail/"):
            assert text.startswith(f'{{% extends "{lang}/web/base.html" %}}')
