"""Organisers sign in to the dashboard with Microsoft: the OpenID Connect code flow with PKCE through
msal, against the fake identity provider over HTTPS, which refuses what Entra ID refuses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.entry.settings import BotSettings
from handlers.web.admin.dashboard import SESSION_COOKIE
from handlers.web.models import DashboardSession
from tests.microsoft365.fakes.identity_provider import CODE_GRANT, FakeIdentityProvider
from tests.microsoft365.support import KARI, OLA, Fakes, microsoft_settings, running_fakes
from tests.web.dashboard_support import make_organiser
from tests.web.support import BASE, SLUG, Web, h1, open_web

CALLBACK = f"{BASE}/admin/auth/callback"


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    with running_fakes(monkeypatch) as running:
        running.idp.add_account(KARI, "Kari@Kommune.no", "Kari Nordmann")
        running.idp.add_account(OLA, "ola@kommune.no", "Ola Nordmann")
        running.idp.register_redirect_uri(CALLBACK)
        yield running


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock, fakes: Fakes) -> Iterator[Web]:
    with open_web(replace(settings, microsoft=microsoft_settings(fakes)), clock) as made:
        make_organiser(made, "kari@kommune.no")
        yield made


def to_microsoft(site: Web) -> str:
    """Press «Logg inn med Microsoft»: where the browser is sent."""
    assert "/admin/auth/microsoft" in site.client.get("/admin").text
    started = site.client.get("/admin/auth/microsoft", follow_redirects=False)
    assert started.status_code == 303
    return str(started.headers["location"])


def at_microsoft(url: str) -> httpx.Response:
    """The browser at Microsoft's sign-in page (the fake signs `browser_user` in at once)."""
    return httpx.get(url, follow_redirects=False, timeout=5)


def back_to_us(site: Web, answer: httpx.Response) -> Any:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK)
    return site.client.get(location.removeprefix(BASE), follow_redirects=False)


def test_an_organiser_signs_in_with_microsoft_using_pkce(site: Web, fakes: Fakes) -> None:
    fakes.idp.browser_user = KARI
    url = to_microsoft(site)
    asked = parse_qs(urlsplit(url).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["code_challenge"][0]
    assert asked["redirect_uri"] == [CALLBACK] and "openid" in asked["scope"][0].split()
    assert "state" in asked and "nonce" in asked
    done = back_to_us(site, at_microsoft(url))
    assert done.status_code == 303 and done.headers["location"] == "/admin"
    assert SESSION_COOKIE in done.headers["set-cookie"]
    home = site.client.get("/admin")
    assert home.status_code == 200 and f'href="/admin/s/{SLUG}"' in home.text
    assert fakes.idp.grants[CODE_GRANT] == 1
    with site.app.db.read() as s:
        assert s.scalars(select(DashboardSession.signed_in_with)).all() == ["microsoft"]


def test_someone_who_organises_nothing_is_not_signed_in(site: Web, fakes: Fakes) -> None:
    fakes.idp.browser_user = OLA
    refused = back_to_us(site, at_microsoft(to_microsoft(site)))
    assert refused.status_code == 403 and h1(refused.text) == "Du er ikke arrangør"
    assert site.client.get("/admin").status_code == 401


def test_a_cancelled_sign_in_or_a_forged_state_signs_nobody_in(site: Web, fakes: Fakes) -> None:
    fakes.idp.browser_user = None  # the person closed Microsoft's page
    denied = back_to_us(site, at_microsoft(to_microsoft(site)))
    assert denied.status_code == 400 and h1(denied.text) == "Innloggingen mislyktes"

    fakes.idp.browser_user = KARI
    answer = at_microsoft(to_microsoft(site))
    forged = answer.headers["location"].replace("state=", "state=x")
    assert site.client.get(forged.removeprefix(BASE)).status_code == 400
    assert site.client.get("/admin").status_code == 401


def test_a_code_replayed_in_another_browser_is_refused(site: Web, fakes: Fakes) -> None:
    fakes.idp.browser_user = KARI
    answer = at_microsoft(to_microsoft(site))
    callback = answer.headers["location"].removeprefix(BASE)
    flow_cookie = dict(site.client.cookies)
    assert back_to_us(site, answer).status_code == 303
    site.client.cookies.clear()
    site.client.cookies.update(flow_cookie)  # an attacker who copied both
    replayed = site.client.get(callback, follow_redirects=False)
    assert replayed.status_code == 400
    assert fakes.idp.refused[CODE_GRANT] == 1


def test_an_unreachable_identity_provider_is_a_page_that_says_so(
    site: Web, fakes: Fakes, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # TLS to the identity provider now fails, as an outage
    monkeypatch.delenv("SSL_CERT_FILE")
    assert "/admin/auth/microsoft" in site.client.get("/admin").text
    started = site.client.get("/admin/auth/microsoft", follow_redirects=False)
    assert started.status_code == 503 and h1(started.text) == "Innloggingen mislyktes"
    assert "identity provider unavailable (SSLError" in caplog.text
    assert site.client.get("/admin").status_code == 401


def test_the_fake_refuses_what_entra_refuses(fakes: Fakes) -> None:
    """The strictness the test above relies on: a wrong verifier, a reused code, another redirect URI."""
    idp: FakeIdentityProvider = fakes.idp
    idp.browser_user = KARI

    def code(challenge: str) -> str:
        query = {
            "client_id": "client-0001",
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "scope": "openid profile",
            "state": "s",
            "nonce": "n",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        answer = httpx.get(f"{idp.url}/tenant-0001/oauth2/v2.0/authorize", params=query, timeout=5)
        return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

    def redeem(given: str, verifier: str, redirect_uri: str = CALLBACK) -> httpx.Response:
        form = {
            "client_id": "client-0001",
            "client_secret": "fake-client-secret-value",
            "grant_type": "authorization_code",
            "code": given,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
        }
        return httpx.post(f"{idp.url}/tenant-0001/oauth2/v2.0/token", data=form, timeout=5)

    verifier = "v" * 43
    challenge = "7w_YNF9DSfIdPf_pRjSq646_kPr-2-o9NAl16JGghdM"  # BASE64URL(SHA256("v" * 43))
    wrong = redeem(code(challenge), "w" * 43)
    assert wrong.status_code == 400 and "AADSTS501481" in wrong.json()["error_description"]
    elsewhere = redeem(code(challenge), verifier, "https://evil.example/cb")
    assert "AADSTS500112" in elsewhere.json()["error_description"]
    good = code(challenge)
    assert redeem(good, verifier).status_code == 200
    again = redeem(good, verifier)
    assert again.status_code == 400 and "AADSTS54005" in again.json()["error_description"]
    unregistered = httpx.get(
        f"{idp.url}/tenant-0001/oauth2/v2.0/authorize",
        params={"client_id": "client-0001", "redirect_uri": "https://evil.example/cb"},
        timeout=5,
    )
    assert unregistered.status_code == 400 and "AADSTS50011" in unregistered.text
