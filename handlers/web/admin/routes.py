"""Every route of the dashboard, listed here. A page behind sign-in gets the organiser; without a
live session it shows the sign-in page (401); a POST without the session's CSRF token, or from
another origin, gets a 403 page and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from handlers.web.admin import pages, people_pages, previews, sign_in
from handlers.web.admin.dashboard import SESSION_COOKIE, AdminPage, Dashboard
from handlers.web.request import WebRequest
from handlers.web.site import Site

GET, POST = ["GET", "HEAD"], ["POST"]


class Endpoint(Protocol):
    def __call__(
        self, site: Site, page: Callable[[Site, WebRequest], Response], *, upload: bool = False
    ) -> Callable[[Request], object]: ...


OpenPage = Callable[[Dashboard, WebRequest], Response]


def admin_routes(dash: Dashboard, endpoint: Endpoint) -> list[Route]:
    def open_(path: str, page: OpenPage, methods: list[str]) -> Route:
        return Route(path, endpoint(dash.site, lambda _site, req: page(dash, req)), methods=methods)

    def guarded(path: str, page: AdminPage, methods: list[str], *, upload: bool = False) -> Route:
        made = endpoint(dash.site, lambda _site, req: _guard(dash, page, req), upload=upload)
        return Route(path, made, methods=methods)

    return [
        guarded("/admin", pages.home, GET),
        open_("/admin/login/{token}", sign_in.link_page, GET),
        open_("/admin/login/{token}", sign_in.link_use, POST),
        open_("/admin/auth/microsoft", sign_in.microsoft_start, GET),
        open_("/admin/auth/callback", sign_in.microsoft_callback, GET),
        guarded("/admin/signout", sign_in.sign_out, POST),
        guarded("/admin/s/{slug}", pages.series_page, GET),
        guarded("/admin/s/{slug}/subscribers", people_pages.subscribers_page, GET),
        guarded("/admin/s/{slug}/subscribers", people_pages.subscriber_add, POST),
        guarded("/admin/s/{slug}/subscribers/remove", people_pages.subscriber_remove, POST),
        guarded("/admin/s/{slug}/subscribers/import", people_pages.subscriber_import, POST, upload=True),
        guarded("/admin/s/{slug}/subscribers.csv", people_pages.subscribers_export, GET),
        guarded("/admin/s/{slug}/organisers", people_pages.organisers_page, GET),
        guarded("/admin/s/{slug}/organisers", people_pages.organiser_change, POST),
        guarded("/admin/s/{slug}/audit", people_pages.audit_page, GET),
        guarded("/admin/sessions/{id}", pages.session_page, GET),
        guarded("/admin/sessions/{id}", pages.session_save, POST),
        guarded("/admin/sessions/{id}/cancel", pages.session_cancel, POST),
        guarded("/admin/sessions/{id}/retry", pages.retry_failed, POST),
        guarded("/admin/sessions/{id}/links", pages.link_add, POST),
        guarded("/admin/sessions/{id}/links/{link}/remove", pages.link_remove, POST),
        guarded("/admin/sessions/{id}/preview", previews.preview_page, GET),
        guarded("/admin/sessions/{id}/preview/mail", previews.mail_html, GET),
    ]


def _guard(dash: Dashboard, page: AdminPage, req: WebRequest) -> Response:
    who = dash.signed_in(req)
    if who is None:
        return dash.sign_in_page(req, ended=bool(req.cookies.get(SESSION_COOKIE)), status=401)
    if req.method == "POST" and not dash.post_ok(req, who):
        return dash.problem(req, who, "csrf", 403)
    return page(dash, req, who)
