"""Signing in to the dashboard with a one-time link: who gets one, single use, expiry, the session
cookie, idle timeout, CSRF and Origin checks, signing out, and the audit of each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.clock import ManualClock
from bot.entry.cli import app as cli
from bot.entry.settings import BotSettings
from bot.models import AuditEvent
from handlers.web.admin.dashboard import SESSION_COOKIE
from handlers.web.models import DashboardLink
from tests.web.dashboard_support import KARI, admin_csrf, make_organiser, sign_in, sign_in_link, use_link
from tests.web.support import SLUG, Web, h1, open_web


@pytest.fixture
def site(settings: BotSettings, clock: ManualClock) -> Iterator[Web]:
    with open_web(settings, clock) as made:
        make_organiser(made)
        yield made


def test_the_cli_prints_a_link_for_an_organiser_and_refuses_anyone_else(
    site: Web, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": db_url,
        "SECRET_KEY": "test-secret-key-0123456789",
        "PUBLIC_BASE_URL": "https://webinar.example.org",
        "LOG_LEVEL": "WARNING",
    }
    given = CliRunner().invoke(cli, ["dashboard", "link", "--as", KARI], env=env)
    assert given.exit_code == 0, given.output
    url = given.stdout.strip().splitlines()[0]
    assert url.startswith("https://webinar.example.org/admin/login/")
    key = url.rsplit("/", 1)[1]
    with site.app.db.read() as s:
        stored = s.scalars(select(DashboardLink.token_hash)).all()
    assert stored and key not in stored, "only a hash of the key is stored"

    refused = CliRunner().invoke(cli, ["dashboard", "link", "--as", "ola@kommune.no"], env=env)
    assert refused.exit_code == 1
    assert "organises no series" in refused.output

    as_operator = CliRunner().invoke(
        cli, ["dashboard", "link", "--as", "ola@kommune.no", "--operator"], env=env
    )
    assert as_operator.exit_code == 0, as_operator.output


def test_a_link_signs_in_once_with_a_secure_session_cookie(site: Web) -> None:
    path = sign_in_link(site)
    shown = site.client.get(path)
    assert shown.status_code == 200 and KARI in shown.text
    assert SESSION_COOKIE not in site.client.cookies, "opening the link changes nothing"

    used = use_link(site, path)
    assert used.status_code == 303 and used.headers["location"] == "/admin"
    cookie = used.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/admin"):
        assert attribute.lower() in cookie.lower(), cookie
    home = site.client.get("/admin")
    assert home.status_code == 200
    assert f'href="/admin/s/{SLUG}"' in home.text

    site.client.cookies.clear()
    again = site.client.get(path)
    assert again.status_code == 410 and h1(again.text) == "Lenken er allerede brukt"
    assert use_link(site, path).status_code == 410


def test_an_expired_link_gets_a_clear_page(site: Web) -> None:
    path = sign_in_link(site)
    site.clock.advance(timedelta(minutes=15, seconds=1))
    answer = site.client.get(path, headers={"accept-language": "en"})
    assert answer.status_code == 410
    assert h1(answer.text) == "This link has expired"
    assert site.client.get("/admin/login/not-a-real-key").status_code == 404


def test_a_link_of_someone_no_longer_organiser_does_not_sign_in(site: Web) -> None:
    from bot.services.context import Ctx
    from bot.services.organisers import revoke
    from bot.services.series import resolve_series
    from tests.conftest import ORGANISER

    path = sign_in_link(site)
    with site.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, site.app.clock.now(), site.app.config)
        revoke(ctx, resolve_series(ctx, SLUG), KARI)
    answer = use_link(site, path)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in site.client.cookies


def test_the_session_ends_after_30_idle_minutes_but_not_while_used(site: Web) -> None:
    sign_in(site)
    for _ in range(3):
        site.clock.advance(timedelta(minutes=25))
        assert site.client.get("/admin").status_code == 200
    site.clock.advance(timedelta(minutes=30))
    ended = site.client.get("/admin")
    assert ended.status_code == 401
    assert "logget ut" in ended.text
    assert site.client.get("/admin").status_code == 401, "an ended session stays ended"


def test_the_session_ends_after_its_lifetime_however_busy(site: Web) -> None:
    sign_in(site)
    for _ in range(12 * 3):
        site.clock.advance(timedelta(minutes=20))
        site.client.get("/admin")
    assert site.client.get("/admin").status_code == 401


def test_a_post_without_the_sessions_csrf_token_or_from_elsewhere_is_refused(site: Web) -> None:
    sign_in(site)
    path = f"/admin/s/{SLUG}"
    assert site.client.get(path).status_code == 200
    token = admin_csrf(site, "/admin")
    wrong = site.client.post("/admin/signout", data={"csrf": "0" * 64}, follow_redirects=False)
    assert wrong.status_code == 403 and "Skjemaet kunne ikke sendes" in wrong.text
    elsewhere = site.client.post(
        "/admin/signout",
        data={"csrf": token},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 403
    hidden = site.client.post(
        "/admin/signout", data={"csrf": token}, headers={"origin": "null"}, follow_redirects=False
    )
    assert hidden.status_code == 403
    # So that a browser names our origin on a POST (with `no-referrer` it sends `null`).
    assert site.client.get("/admin").headers["referrer-policy"] == "same-origin"
    assert site.client.get("/admin").status_code == 200, "still signed in"
    out = site.client.post("/admin/signout", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303
    assert site.client.get("/admin").status_code == 401


def test_signing_in_and_out_lands_in_the_audit_log_with_the_organiser(site: Web) -> None:
    sign_in(site)
    token = admin_csrf(site, "/admin")
    site.client.post("/admin/signout", data={"csrf": token}, follow_redirects=False)
    with site.app.db.read() as s:
        rows = s.execute(
            select(AuditEvent.action, AuditEvent.channel, AuditEvent.actor_person_id).where(
                AuditEvent.action.like("dashboard.%")
            )
        ).all()
    actions = [row.action for row in rows]
    assert actions == ["dashboard.link_issued", "dashboard.signed_in", "dashboard.signed_out"]
    signed_in = [row for row in rows if row.action != "dashboard.link_issued"]
    assert all(row.channel == "dashboard" and row.actor_person_id is not None for row in signed_in)


def test_without_a_session_every_page_asks_to_sign_in(site: Web) -> None:
    for path in ("/admin", f"/admin/s/{SLUG}", "/admin/sessions/1", "/admin/sessions/1/preview"):
        answer = site.client.get(path)
        assert answer.status_code == 401, path
        assert "dashboard link --as" in answer.text
        assert "Logg inn med Microsoft" not in answer.text, "no Microsoft 365 configured"
    refused = site.client.post("/admin/sessions/1", data={"title": "x"}, follow_redirects=False)
    assert refused.status_code == 401


def test_the_hourly_upkeep_forgets_spent_links_and_ended_sessions(site: Web) -> None:
    from handlers.web.jobs import purge_expired_confirmations
    from handlers.web.models import DashboardSession

    sign_in(site)  # a used link, a live session
    sign_in_link(site)  # a link nobody used
    purge_expired_confirmations(site.app.core)
    with site.app.db.read() as s:
        assert len(s.scalars(select(DashboardLink)).all()) == 2, "links within their 15 minutes stay"
        assert len(s.scalars(select(DashboardSession)).all()) == 1
    site.clock.advance(timedelta(hours=13))
    purge_expired_confirmations(site.app.core)
    with site.app.db.read() as s:
        assert s.scalars(select(DashboardLink)).all() == []
        assert s.scalars(select(DashboardSession)).all() == []
