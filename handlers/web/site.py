"""What every page shares: the core, reads, commands through the inbox, page rendering with language
and CSRF cookie, error pages."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, Response

from bot.command_payloads import from_payload, to_payload
from bot.commands import Actor, Command
from bot.core import Core
from bot.dispatch import Reply
from bot.inbox import Executed
from bot.languages import NATIVE
from bot.services import public
from bot.services.context import Ctx
from bot.settings import LANGUAGES
from bot.tokens import csrf_field, csrf_matches
from bot.views import SeriesView
from handlers.web.request import LANGUAGE_COOKIE, WebRequest, chosen_language
from handlers.web.settings import WebSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"
WEB, COMMAND = "web", "command"  # the channel and kind of a page's command in the inbox
CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf"
CSRF_COOKIE_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
YEAR = 365 * 24 * 3600
# Who reads for a public page: nobody in particular (reads are not audited).
PUBLIC_READER = Actor(platform="web", external_id="public")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Links carry tokens in their path: never pass them on to the sites the pages link to.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class Site:
    def __init__(self, core: Core, limits: WebSettings) -> None:
        self.core, self.limits = core, limits

    @property
    def secret_key(self) -> str:
        return self.core.settings.secret_key

    def base_url(self) -> str:
        """Where links in mails point: PUBLIC_BASE_URL, else this server's own address (never the
        request's Host header, which a client chooses)."""
        settings = self.core.settings
        if settings.public_base_url:
            return settings.public_base_url
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(settings.host, settings.host)  # noqa: S104
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{settings.port}"

    @contextmanager
    def reading(self) -> Iterator[Ctx]:
        """A read-only context for service lookups; nothing done in it is committed."""
        with self.core.db.read() as s:
            yield Ctx(s, PUBLIC_READER, self.core.clock.now(), self.core.config)

    def execute(self, actor: Actor, command: Command) -> Reply:
        """Carry a page's command out through the inbox, here and now (the reader waits for the
        page). Raises OperationalError when the database cannot take it."""
        return self.core.inbox.run_now(WEB, COMMAND, to_payload(actor, command), self.carry_out)

    def carry_out(self, payload: dict[str, Any], executed: Executed) -> Reply:
        """The work of a web request, from its row in the inbox."""
        actor, command = from_payload(payload)
        return self.core.dispatcher.execute(actor, command, within=executed)

    def series(self, slug: str) -> SeriesView | None:
        with self.reading() as ctx:
            found = public.series_by_slug(ctx, slug)
            return SeriesView.of(found) if found is not None else None

    def series_by_id(self, series_id: int) -> SeriesView | None:
        with self.reading() as ctx:
            found = public.series_by_id(ctx, series_id)
            return SeriesView.of(found) if found is not None else None

    def csrf_ok(self, req: WebRequest) -> bool:
        cookie = req.cookies.get(CSRF_COOKIE, "")
        given = req.form.get(CSRF_FIELD, "")
        return bool(CSRF_COOKIE_RE.match(cookie)) and csrf_matches(self.secret_key, cookie, given)

    def language(self, req: WebRequest, fallback: str | None = None) -> str:
        return chosen_language(req, fallback or self.core.settings.language)[0]

    def page(
        self,
        req: WebRequest,
        name: str,
        data: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        fallback_language: str | None = None,
        timezone: str | None = None,
    ) -> Response:
        """Render `templates/<language>/web/<name>.html` with the CSRF field and the language switch."""
        language, remember = chosen_language(req, fallback_language or self.core.settings.language)
        cookie = req.cookies.get(CSRF_COOKIE, "")
        new_cookie = not CSRF_COOKIE_RE.match(cookie)
        if new_cookie:
            cookie = secrets.token_urlsafe(24)
        context = {
            **(data or {}),
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_field(self.secret_key, cookie),
            "switches": language_switches(req.path, language),
        }
        html = self.core.renderer.render(
            f"web/{name}.html",
            context,
            language=language,
            timezone=timezone or self.core.settings.timezone,
            fmt="html",
        )
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        if new_cookie:
            response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="lax", secure=req.secure)
        if remember:
            response.set_cookie(LANGUAGE_COOKIE, language, max_age=YEAR, samesite="lax", secure=req.secure)
        return response

    def problem(
        self,
        req: WebRequest,
        problem: str,
        status: int,
        *,
        again_url: str | None = None,
        fallback_language: str | None = None,
    ) -> Response:
        """A page that says what went wrong and what to do next (never a traceback)."""
        data = {"problem": problem, "again_url": again_url}
        return self.page(req, "problem", data, status=status, fallback_language=fallback_language)


def masked(email: str) -> str:
    """An address shown on a page to its owner, half hidden from anyone looking over a shoulder:
    k***@kommune.no."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def with_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def language_switches(path: str, current: str) -> list[dict[str, str]]:
    """A link to this page in every other language, each named in its own language."""
    return [
        {"code": code, "name": NATIVE[code], "url": f"{path}?{urlencode({'lang': code})}"}
        for code in LANGUAGES
        if code != current
    ]
