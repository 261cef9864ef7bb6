"""Shared by the dashboard tests: an organiser, a sign-in link, and a browser signed in with it."""

from __future__ import annotations

import re
from typing import Any

from bot.services.context import Ctx
from bot.services.organisers import grant
from bot.services.series import resolve_series
from handlers.web.admin.access import issue_link
from tests.conftest import ORGANISER
from tests.web.support import BASE, SLUG, Web

KARI = "kari@kommune.no"
ADMIN_CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def make_organiser(web: Web, email: str = KARI, slug: str = SLUG) -> None:
    with web.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, web.app.clock.now(), web.app.config)
        grant(ctx, resolve_series(ctx, slug), email)


def sign_in_link(web: Web, email: str = KARI, *, operator: bool = False) -> str:
    """The path of a fresh sign-in link, as `dashboard link --as` prints it."""
    with web.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, web.app.clock.now(), web.app.config)
        url = issue_link(ctx, email, BASE, operator=operator)
    return url.removeprefix(BASE)


def use_link(web: Web, path: str) -> Any:
    """Open the link and press its button, as a browser does."""
    return web.post_form(path, {}, form_page=path)


def sign_in(web: Web, email: str = KARI) -> None:
    answer = use_link(web, sign_in_link(web, email))
    assert answer.status_code == 303, answer.text


def admin_csrf(web: Web, path: str) -> str:
    found = ADMIN_CSRF_RE.search(web.client.get(path).text)
    assert found, "no dashboard CSRF field"
    return found.group(1)


def admin_post(web: Web, path: str, data: dict[str, str], *, form_page: str) -> Any:
    token = admin_csrf(web, form_page)
    return web.client.post(path, data={"csrf": token, **data}, follow_redirects=False)
