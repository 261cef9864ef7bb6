"""Leaving from the link in a mail: the signed link, GET that changes nothing, POST, RFC 8058 one-click,
and undoing it from the result page."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import ForgetMe
from bot.entry.settings import BotSettings
from bot.models import AuditEvent
from bot.tokens import unsubscribe_headers, unsubscribe_token, unsubscribe_url
from tests.conftest import person
from tests.web.support import BASE, SLUG, Web, add_person, h1, is_active, open_web, series_id

EMAIL = "kari@kommune.no"


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        yield made


def link_for(site: Web, email: str = EMAIL) -> str:
    """The path of the unsubscribe link the mail channel puts in a mail to `email`."""
    person_id = add_person(site.app, email)
    url = unsubscribe_url(site.app.settings, person_id, series_id(site.app))
    assert url is not None
    return url.removeprefix(BASE)


def test_the_link_needs_a_public_base_url(settings: BotSettings) -> None:
    assert unsubscribe_url(replace(settings, public_base_url=None), 1, 1) is None
    assert unsubscribe_headers(replace(settings, public_base_url=None), 1, 1) == {}


def test_the_link_and_its_headers_carry_ids_only(settings: BotSettings) -> None:
    configured = replace(settings, public_base_url=BASE)
    url = unsubscribe_url(configured, 42, 7)
    assert url is not None and url.startswith(f"{BASE}/u/")
    payload = url.removeprefix(f"{BASE}/u/").split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == [42, 7]
    assert "@" not in url
    assert unsubscribe_headers(configured, 42, 7) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_get_shows_a_button_and_changes_nothing(site: Web) -> None:
    path = link_for(site)
    for _ in range(3):  # a mail scanner may open it several times
        page = site.client.get(path)
        assert page.status_code == 200
        assert "k***@kommune.no" in page.text
        assert f'action="{path}"' in page.text
        assert "kari@kommune.no" not in page.text
    head = site.client.head(path)
    assert head.status_code == 200
    assert is_active(site.app, EMAIL)


def test_post_unsubscribes_and_offers_to_undo(site: Web) -> None:
    path = link_for(site)
    done = site.post_form(path, {})
    assert done.status_code == 200
    assert "Du er meldt av" in h1(done.text)
    assert not is_active(site.app, EMAIL)
    assert f'action="{path}/resubscribe"' in done.text
    with site.app.db.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "subscription.ended")).one()
        assert event.channel == "email"

    undo = done.text.split('name="undo" value="')[1].split('"')[0]
    again = site.post_form(f"{path}/resubscribe", {"undo": undo}, form_page=path)
    assert again.status_code == 200
    assert "Du er påmeldt" in h1(again.text)
    assert is_active(site.app, EMAIL)


def test_post_without_csrf_gets_403_and_changes_nothing(site: Web) -> None:
    path = link_for(site)
    response = site.client.post(path, data={})
    assert response.status_code == 403
    assert is_active(site.app, EMAIL)


def test_one_click_post_works_without_cookies_or_csrf(site: Web) -> None:
    path = link_for(site)
    assert not site.client.cookies
    response = site.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not is_active(site.app, EMAIL)
    # A second one-click (the provider retries) is harmless.
    assert site.client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_one_click_as_multipart_works_too(site: Web) -> None:
    path = link_for(site)
    response = site.client.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert not is_active(site.app, EMAIL)


def test_one_click_with_another_value_needs_csrf(site: Web) -> None:
    path = link_for(site)
    assert site.client.post(path, data={"List-Unsubscribe": "yes"}).status_code == 403
    assert is_active(site.app, EMAIL)


def test_an_old_link_keeps_working(site: Web, clock: ManualClock) -> None:
    path = link_for(site)
    clock.advance(timedelta(days=800))
    assert site.post_form(path, {}).status_code == 200
    assert not is_active(site.app, EMAIL)


@pytest.mark.parametrize(
    "make",
    [
        lambda good: good[:-3] + ("xyz" if not good.endswith("xyz") else "abc"),
        lambda good: unsubscribe_token("some-other-secret-key-123", 1, 1),
        lambda good: "WzEsMV0.forged",
        lambda good: "%00",
    ],
    ids=["tampered", "other-key", "forged", "junk"],
)
def test_a_bad_link_gets_400(site: Web, make: object) -> None:
    good = link_for(site).removeprefix("/u/")
    path = "/u/" + make(good)  # type: ignore[operator]
    assert site.client.get(path).status_code == 400
    assert site.client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert is_active(site.app, EMAIL)


def test_a_link_to_a_series_that_is_gone_gets_404(site: Web) -> None:
    person_id = add_person(site.app, EMAIL)
    path = "/u/" + unsubscribe_token(site.app.settings.secret_key, person_id, 9999)
    assert site.client.get(path).status_code == 404


def test_someone_already_unsubscribed_is_told_so(site: Web) -> None:
    path = link_for(site)
    site.client.post(path, data={"List-Unsubscribe": "One-Click"})
    page = site.client.get(path)
    assert page.status_code == 200
    assert "ikke påmeldt" in h1(page.text)
    repeated = site.post_form(path, {}, form_page=f"/s/{SLUG}/subscribe")
    assert "ikke påmeldt" in h1(repeated.text)
    assert 'name="undo"' not in repeated.text, "undo only for an unsubscribe this request made"


def test_after_erasure_the_link_changes_nothing(site: Web) -> None:
    path = link_for(site)
    site.app.dispatcher.execute(person(EMAIL), ForgetMe(confirmed=True))
    assert "ikke påmeldt" in h1(site.client.get(path).text)
    assert site.client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_undo_expires_after_a_day(site: Web, clock: ManualClock) -> None:
    path = link_for(site)
    undo = site.post_form(path, {}).text.split('name="undo" value="')[1].split('"')[0]
    clock.advance(timedelta(days=1, minutes=1))
    response = site.post_form(f"{path}/resubscribe", {"undo": undo}, form_page=path)
    assert response.status_code == 410
    assert not is_active(site.app, EMAIL)


def test_undo_for_someone_else_is_refused(site: Web) -> None:
    kari = link_for(site, EMAIL)
    ola = link_for(site, "ola@kommune.no")
    undo = site.post_form(kari, {}).text.split('name="undo" value="')[1].split('"')[0]
    site.post_form(ola, {})
    response = site.post_form(f"{ola}/resubscribe", {"undo": undo}, form_page=ola)
    assert response.status_code == 400
    assert not is_active(site.app, "ola@kommune.no")


def test_undo_needs_its_token_and_csrf(site: Web) -> None:
    path = link_for(site)
    site.post_form(path, {})
    assert site.post_form(f"{path}/resubscribe", {}, form_page=path).status_code == 400
    assert site.client.post(f"{path}/resubscribe", data={"undo": "x"}).status_code == 403
    assert not is_active(site.app, EMAIL)
