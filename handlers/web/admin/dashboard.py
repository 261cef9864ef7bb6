"""What every dashboard page shares: the signed-in organiser from the session cookie, the checks on
every POST (the session's CSRF token and the Origin header), transactions as that organiser, and
page rendering."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import RedirectResponse, Response

from bot.core import Core
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.sign_in import ExternalSignIn
from handlers.web.admin.access import SignedIn, csrf_matches, csrf_token, current_session
from handlers.web.request import WebRequest
from handlers.web.site import SECURITY_HEADERS, Site

SESSION_COOKIE = "admin_session"
ROOT = "/admin"
AdminPage = Callable[["Dashboard", WebRequest, SignedIn], Response]


class Dashboard:
    def __init__(self, site: Site, microsoft: ExternalSignIn | None = None) -> None:
        self.site, self.microsoft = site, microsoft
        limits = site.limits
        self.idle = timedelta(minutes=limits.dashboard_idle_minutes)
        self.lifetime = timedelta(hours=limits.dashboard_session_hours)

    @property
    def core(self) -> Core:
        return self.site.core

    @property
    def secure(self) -> bool:
        """Cookies only over https when the bot is served over https (PUBLIC_BASE_URL)."""
        return self.site.base_url().lower().startswith("https://")

    def signed_in(self, req: WebRequest) -> SignedIn | None:
        key = req.cookies.get(SESSION_COOKIE, "")
        if not key:
            return None
        with self.core.db.transaction() as s:
            return current_session(s, key, self.core.clock.now(), self.idle)

    def origin_ok(self, req: WebRequest) -> bool:
        """A POST from our own pages: no Origin (an older browser), or ours (not `null`)."""
        if not req.origin:
            return True
        ours = urlsplit(self.site.base_url())
        theirs = urlsplit(req.origin)
        return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)

    def post_ok(self, req: WebRequest, who: SignedIn) -> bool:
        return self.origin_ok(req) and csrf_matches(self.site.secret_key, who, req.form.get("csrf", ""))

    @contextmanager
    def acting(self, who: SignedIn) -> Iterator[Ctx]:
        """One transaction as the organiser: what the services change is audited with them as actor."""
        with self.core.db.transaction() as s:
            yield Ctx(s, who.actor, self.core.clock.now(), self.core.config)

    @contextmanager
    def reading(self, who: SignedIn) -> Iterator[Ctx]:
        with self.core.db.read() as s:
            yield Ctx(s, who.actor, self.core.clock.now(), self.core.config)

    def refusal(self, req: WebRequest, refusal: UserError, timezone: str | None = None) -> str:
        """A service's refusal in the page's language, as the chat and the CLI word it."""
        return str(
            self.core.renderer.render(
                f"replies/{refusal.key}.txt",
                refusal.data,
                language=self.site.language(req),
                timezone=timezone or self.core.settings.timezone,
            )
        )

    def page(
        self,
        req: WebRequest,
        who: SignedIn | None,
        name: str,
        data: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        timezone: str | None = None,
    ) -> Response:
        given = {
            "who": who,
            "admin_csrf": csrf_token(self.site.secret_key, who) if who is not None else "",
            **(data or {}),
        }
        response = self.site.page(req, f"admin/{name}", given, status=status, timezone=timezone)
        # Browsers send `Origin: null` with a form posted from a `no-referrer` page (Fetch
        # standard); our own origin, sent to ourselves only, lets every POST be checked against it.
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def problem(self, req: WebRequest, who: SignedIn | None, problem: str, status: int) -> Response:
        return self.page(req, who, "problem", {"problem": problem}, status=status)

    def sign_in_page(self, req: WebRequest, *, ended: bool, status: int = 200) -> Response:
        data = {"ended": ended, "microsoft": self.microsoft is not None}
        response = self.page(req, None, "sign_in", data, status=status)
        if ended:
            self.clear_session_cookie(response)
        return response

    def clear_session_cookie(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=ROOT, secure=self.secure, httponly=True, samesite="lax")

    def set_session_cookie(self, response: Response, key: str) -> None:
        response.set_cookie(SESSION_COOKIE, key, path=ROOT, secure=self.secure, httponly=True, samesite="lax")


def see_other(url: str) -> Response:
    """After a POST: the browser loads `url` with a GET (no form sent twice on reload)."""
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
