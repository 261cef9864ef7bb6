"""handlers.microsoft365.auth and login_store: app-only tokens, the device-code login, silent refresh, the
encrypted token cache in the database, and an expired or revoked login reported once."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.entry.composition import build
from bot.mail import MailMessage
from handlers.microsoft365.errors import GraphUnavailable, LoginNeeded
from handlers.microsoft365.login_store import SecretBox
from handlers.microsoft365.models import GraphLogin
from handlers.microsoft365.service import Microsoft365
from handlers.microsoft365.status import LOGIN_NEEDED, channel_state, status_lines
from tests.conftest import NOW
from tests.microsoft365.fakes.identity_provider import (
    EXPIRED_GRANT,
    MFA_REQUIRED,
    REVOKED_GRANT,
    SERVER_ERROR,
    TEMPORARILY_UNAVAILABLE,
    TokenError,
)
from tests.microsoft365.support import BOT_UPN, Tenant365, free_port, serving, tenant365


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        yield tenant


def test_app_only_token_comes_over_verified_tls_and_is_cached(ms: Tenant365) -> None:
    first = ms.m365.app_auth.token()
    assert first == ms.m365.app_auth.token()
    assert ms.idp.grants["client_credentials"] == 1
    # The audience is Graph's origin (here the fake's): a token for another API would not do.
    info = ms.idp.token_info(first)
    assert info is not None and info.audience == ms.graph.url


def test_without_the_test_ca_tls_verification_refuses_the_fake(
    ms: Tenant365, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("SSL_CERT_FILE")
    assert ms.app.settings.microsoft is not None
    fresh = Microsoft365(ms.app.core, ms.app.settings.microsoft)
    with pytest.raises(GraphUnavailable, match="identity provider unavailable"):
        fresh.app_auth.token()
    fresh.close()


def test_device_login_then_silent_refresh_from_the_stored_cache(ms: Tenant365) -> None:
    ms.idp.token_lifetime = 120  # msal refreshes tokens this close to expiry: every call refreshes
    assert ms.login() == BOT_UPN
    assert ms.idp.grants["urn:ietf:params:oauth:grant-type:device_code"] == 1
    # Another process (a new Microsoft365 on the same database) gets tokens silently.
    assert ms.app.settings.microsoft is not None
    other = Microsoft365(ms.app.core, ms.app.settings.microsoft)
    token = other.user_auth.token()
    assert ms.idp.token_info(token) is not None
    assert ms.idp.grants["refresh_token"] == 1
    assert other.self_id() == "aad-bot"
    state = ms.m365.store.state()
    assert state is not None and state.username == BOT_UPN and state.problem is None
    other.close()


def test_the_stored_cache_is_encrypted_with_a_key_from_secret_key(ms: Tenant365) -> None:
    ms.login()
    with ms.app.db.read() as s:
        stored = s.scalar(select(GraphLogin.token_cache))
    assert stored is not None
    for secret in ms.idp.secrets_issued():
        assert secret not in stored
    assert "refresh_token" not in stored.lower() and "RefreshToken" not in stored
    assert "RefreshToken" in SecretBox(ms.app.settings.secret_key).open(stored)


def test_cryptography_is_loaded_only_to_seal_or_open_a_login() -> None:
    """A bot with no Teams login to keep never loads it (some 6 MB in each process)."""
    code = (
        "import sys\n"
        "from handlers.microsoft365.login_store import SecretBox\n"
        "box = SecretBox('k' * 32)\n"
        "assert 'cryptography' not in sys.modules, 'loaded before any login'\n"
        "assert box.open(box.seal('cache')) == 'cache'\n"
        "assert 'cryptography.fernet' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_changed_secret_key_is_reported_not_crashed(ms: Tenant365) -> None:
    ms.login()
    other_settings = replace(ms.app.settings, secret_key="another-secret-key-0123456789")
    other_app = build(other_settings, clock=ms.clock, migrate=False)
    assert other_settings.microsoft is not None
    other = Microsoft365(other_app.core, other_settings.microsoft)
    with pytest.raises(LoginNeeded, match="cannot be decrypted"):
        other.user_auth.token()
    assert channel_state(other) == f"degraded: {LOGIN_NEEDED}"
    other.close()
    other_app.close()


def test_revoked_login_is_reported_once_and_app_only_work_goes_on(
    ms: Tenant365, caplog: pytest.LogCaptureFixture
) -> None:
    ms.login()
    ms.m365.teams.post_to_channel("Før", "<p>før</p>")
    ms.idp.revoke("aad-bot")
    caplog.set_level(logging.INFO)
    for _ in range(3):
        with pytest.raises(LoginNeeded, match="expired or was revoked"):
            ms.m365.teams.post_to_channel("Etter", "<p>etter</p>")
    reported = [r for r in caplog.records if r.levelno >= logging.ERROR and "Teams" in r.getMessage()]
    assert len(reported) == 1 and "teams login" in reported[0].getMessage()
    assert ms.idp.refused["refresh_token"] >= 1
    # Operators see it: the stored state, `teams status`, /healthz.
    state = ms.m365.store.state()
    assert state is not None and state.problem and "revoked" in state.problem
    assert channel_state(ms.m365) == f"degraded: {LOGIN_NEEDED}"
    assert any("Teams login PROBLEM" in line for line in status_lines(ms.m365, check=False))
    # App-only work is untouched: a confirmation mail still goes out.
    ms.m365.mailer().send(MailMessage("kari@kommune.no", "Bekreft", "Klikk her"))
    assert [m.to for m in ms.graph.tenant.mails] == [["kari@kommune.no"]]
    # A new login clears the problem.
    ms.login()
    assert channel_state(ms.m365) == "on"


def test_no_login_at_all_is_a_clear_problem(ms: Tenant365) -> None:
    with pytest.raises(LoginNeeded, match="teams login"):
        ms.m365.user_auth.token()
    assert channel_state(ms.m365) == f"degraded: {LOGIN_NEEDED}"
    assert any("Teams login: none" in line for line in status_lines(ms.m365, check=False))


def test_secrets_never_reach_the_log(ms: Tenant365, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ms.m365.app_auth.token()
    ms.login()
    ms.m365.user_auth.token(refresh=True)
    ms.m365.teams.post_to_channel("Hei", "<p>hei</p>")
    ms.idp.revoke("aad-bot")
    with pytest.raises(LoginNeeded):
        ms.m365.user_auth.token(refresh=True)
    text = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    issued = ms.idp.secrets_issued()
    assert len(issued) > 3
    for secret in issued:
        assert secret not in text
    assert "rt-" not in text and "at-" not in text.replace("at-0", "")


# --- sign-in that heals: only a lost login needs `teams login` ------------------------------------


@pytest.mark.parametrize("failure", [TEMPORARILY_UNAVAILABLE, SERVER_ERROR], ids=["AADSTS90033", "503"])
def test_a_transient_token_error_backs_off_and_heals_without_a_new_login(
    ms: Tenant365, failure: TokenError
) -> None:
    ms.idp.token_lifetime = 120  # msal refreshes tokens this close to expiry: every call refreshes
    ms.login()
    # retry_after=0: msal would otherwise hold the identical request back itself, in real time.
    ms.idp.fail_token(failure, grant="refresh_token", retry_after=0)
    with pytest.raises(GraphUnavailable, match="Teams sign-in failing for now"):
        ms.m365.teams.post_to_channel("Hei", "<p>hei</p>")
    state = ms.m365.store.state()
    assert state is not None and state.problem and state.problem_transient
    assert channel_state(ms.m365).startswith("degraded: Teams sign-in failing for now")
    lines = status_lines(ms.m365, check=False)
    assert any("retrying by itself" in line for line in lines)
    assert not any("teams login`" in line for line in lines)
    # Backing off: no token request until the wait is over, and still no call for a new login.
    refused = ms.idp.refused["refresh_token"]
    with pytest.raises(GraphUnavailable, match="retrying"):
        ms.m365.teams.post_to_channel("Hei", "<p>hei</p>")
    assert ms.idp.refused["refresh_token"] == refused
    # The identity provider is well again: after the wait, the same login works.
    ms.clock.advance(timedelta(minutes=5))
    ms.m365.teams.post_to_channel("Hei", "<p>hei</p>")
    assert channel_state(ms.m365) == "on"
    state = ms.m365.store.state()
    assert state is not None and state.problem is None


@pytest.mark.parametrize(
    "failure", [EXPIRED_GRANT, REVOKED_GRANT, MFA_REQUIRED], ids=["AADSTS70008", "AADSTS50173", "AADSTS50076"]
)
def test_only_a_lost_grant_or_a_needed_interaction_asks_for_teams_login(
    ms: Tenant365, failure: TokenError
) -> None:
    ms.idp.token_lifetime = 120
    ms.login()
    ms.idp.fail_token(failure, grant="refresh_token", times=5)
    with pytest.raises(LoginNeeded, match=f"AADSTS{failure.aadsts}"):
        ms.m365.user_auth.token()
    state = ms.m365.store.state()
    assert state is not None and state.problem and not state.problem_transient
    assert channel_state(ms.m365) == f"degraded: {LOGIN_NEEDED}"
    assert any("teams login" in line for line in status_lines(ms.m365, check=False))


def test_a_5xx_from_the_token_endpoint_never_escapes_the_calendar_or_teams_status(
    ms: Tenant365, caplog: pytest.LogCaptureFixture
) -> None:
    ms.login()
    ms.add_session(NOW + timedelta(days=10))
    # Both token requests of the pass fail: the mailbox's Teams check and the meeting's creation.
    ms.idp.fail_token(SERVER_ERROR, grant="client_credentials", times=2, retry_after=0)
    assert ms.m365.calendar.run_once() == 0  # msal's MsalServiceError is caught: the pass ends
    assert channel_state(ms.m365).startswith("degraded")
    ms.idp.fail_token(SERVER_ERROR, grant="client_credentials", times=1, retry_after=0)
    lines = status_lines(ms.m365, check=True)
    assert any(line.startswith("app-only token: FAILED: identity provider unavailable") for line in lines)
    assert "Traceback" not in "\n".join(lines) + caplog.text
    # The next pass heals by itself.
    assert ms.m365.calendar.run_once() == 1
    assert ms.m365.app_auth.token()
    assert channel_state(ms.m365) == "on"


def test_healthz_says_whether_a_teams_login_is_needed(ms: Tenant365) -> None:
    ms.idp.token_lifetime = 120
    ms.login()
    ms.idp.fail_token(TEMPORARILY_UNAVAILABLE, grant="refresh_token", retry_after=0)
    with pytest.raises(GraphUnavailable):
        ms.m365.user_auth.token()
    with serving(ms.app, [], free_port()) as base:
        report = httpx.get(
            f"{base}/healthz", headers={"Authorization": f"Bearer {ms.app.settings.health_token}"}
        )
        state = report.json()["channels"]["microsoft365"]
    assert state.startswith("degraded: Teams sign-in failing for now") and "teams login" not in state
