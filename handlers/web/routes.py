"""Every route of the web pages (subscribe, invite a colleague, unsubscribe, leave, erase, archive,
feed, and the organisers' dashboard from handlers/web/admin/routes.py), listed here.

Each request is read in full first, then its page runs in a worker thread (database calls block),
and whatever goes wrong ends as a page, never a traceback: an unexpected error goes to the error
policy and the reader gets the generic error page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.inbox import RequestFailed
from bot.views import SeriesView
from handlers.web import erase, invite, leave, series_pages, subscribe, unsubscribe
from handlers.web.admin.dashboard import Dashboard
from handlers.web.admin.routes import admin_routes
from handlers.web.request import BadForm, WebRequest, read_request
from handlers.web.site import STATIC_DIR, Site, with_security_headers

log = logging.getLogger(__name__)
Page = Callable[[Site, WebRequest], Response]
SeriesPage = Callable[[Site, WebRequest, SeriesView], Response]
GET, POST = ["GET", "HEAD"], ["POST"]


def routes(site: Site, dashboard: Dashboard) -> Sequence[BaseRoute]:
    def route(path: str, page: Page, methods: list[str]) -> Route:
        return Route(path, endpoint(site, page), methods=methods)

    return [
        route("/", series_pages.index, GET),
        route("/s/{slug}", series_pages.overview, GET),
        route("/s/{slug}/calendar.ics", series_pages.calendar, GET),
        route("/s/{slug}/subscribe", of_series(subscribe.form), GET),
        route("/s/{slug}/subscribe", of_series(subscribe.submit), POST),
        route("/s/{slug}/subscribe/sent", of_series(subscribe.sent), GET),
        route("/s/{slug}/invite", of_series(invite.form), GET),
        route("/s/{slug}/invite", of_series(invite.submit), POST),
        route("/s/{slug}/invite/sent", of_series(invite.sent), GET),
        route("/confirm/{token}", subscribe.confirm_page, GET),
        route("/confirm/{token}", subscribe.confirm, POST),
        route("/s/{slug}/leave", of_series(leave.form), GET),
        route("/s/{slug}/leave", of_series(leave.submit), POST),
        route("/s/{slug}/leave/sent", of_series(leave.sent), GET),
        route("/leave/{token}", leave.confirm_page, GET),
        route("/leave/{token}", leave.confirm, POST),
        route("/u/{token}", unsubscribe.page, GET),
        route("/u/{token}", unsubscribe.submit, POST),
        route("/u/{token}/resubscribe", unsubscribe.resubscribe, POST),
        route("/erase", erase.form, GET),
        route("/erase", erase.submit, POST),
        route("/erase/sent", erase.sent, GET),
        route("/erase/{token}", erase.confirm_page, GET),
        route("/erase/{token}", erase.confirm, POST),
        *admin_routes(dashboard, endpoint),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def of_series(page: SeriesPage) -> Page:
    """A page about the series the path's `slug` names; an unknown slug gets the 404 page."""

    def with_series(site: Site, req: WebRequest) -> Response:
        series = site.series(req.param("slug"))
        if series is None:
            return site.problem(req, "unknown_series", 404, again_url="/")
        return page(site, req, series)

    return with_series


def endpoint(site: Site, page: Page, *, upload: bool = False) -> Callable[[Request], object]:
    """`upload`: the page's form may carry a file (up to MAX_UPLOAD)."""

    async def endpoint(request: Request) -> Response:
        try:
            req = await read_request(request, upload=upload)
        except BadForm as bad:
            req = WebRequest(method=request.method, path=request.url.path, cookies=dict(request.cookies))
            problem, status = ("too_large", 413) if bad.too_large else ("bad_request", 400)
            return with_security_headers(await run_in_threadpool(site.problem, req, problem, status))
        return with_security_headers(await run_in_threadpool(_guarded, site, page, req))

    return endpoint


def _guarded(site: Site, page: Page, req: WebRequest) -> Response:
    try:
        return page(site, req)
    except OperationalError as exc:
        log.warning("database unavailable for %s %s: %s", req.method, req.path, type(exc).__name__)
        return site.problem(req, "unavailable", 503)
    except RequestFailed:  # its command failed; the error policy has it already
        return site.problem(req, "error", 500)
    except Exception as exc:
        site.core.errors.unexpected(f"page {req.method} {req.path.split('/')[1] or '/'}", exc)
        return site.problem(req, "error", 500)
