"""The public pages of the series: the index, each series' next session and archive, its calendar feed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

from starlette.responses import Response

from bot.calendar_ids import uid_host
from bot.services import public, sessions
from bot.services.series import all_series
from bot.views import SeriesView, SessionView
from handlers.web.calendar import build_calendar
from handlers.web.request import WebRequest
from handlers.web.site import SECURITY_HEADERS, Site

ARCHIVE_SIZE = 100
PROGRAMME_SIZE = 100
# The feed keeps a month of past sessions, so calendars do not drop an entry the moment it ends.
FEED_KEEPS = timedelta(days=30)


def index(site: Site, req: WebRequest) -> Response:
    with site.reading() as ctx:
        listed = [SeriesView.of(x) for x in all_series(ctx)]
    return site.page(req, "index", {"all_series": listed})


def overview(site: Site, req: WebRequest) -> Response:
    """Next session (time in the series' zone, how to join or subscribe), the season's programme
    (cancelled sessions marked) and the archive with slides."""
    with site.reading() as ctx:
        found = public.series_by_slug(ctx, req.param("slug"))
        if found is None:
            return site.problem(req, "unknown_series", 404, again_url="/")
        series = SeriesView.of(found)
        upcoming = sessions.next_session(ctx, found)
        next_view = _web_safe(SessionView.of(upcoming)) if upcoming else None
        ahead = [_web_safe(SessionView.of(x)) for x in public.programme(ctx, found, PROGRAMME_SIZE)]
        past = [_web_safe(SessionView.of(x)) for x in sessions.past_sessions(ctx, found, ARCHIVE_SIZE)]
    feed = f"{site.base_url()}/s/{series.slug}/calendar.ics"
    data = {
        "series": series,
        "next": next_view,
        "programme": ahead,
        "past": past,
        "feed_url": feed,
        "webcal_url": "webcal://" + feed.split("://", 1)[1],
    }
    return site.page(req, "series", data, fallback_language=series.language, timezone=series.timezone)


def calendar(site: Site, req: WebRequest) -> Response:
    with site.reading() as ctx:
        found = public.series_by_slug(ctx, req.param("slug"))
        if found is None:
            return site.problem(req, "unknown_series", 404, again_url="/")
        series, now = SeriesView.of(found), ctx.now
        kept = public.calendar_sessions(ctx, found, now - FEED_KEEPS)
        listed = [_web_safe(SessionView.of(x)) for x in kept]
    body = build_calendar(
        site.core.renderer,
        series,
        listed,
        now=now,
        page_url=f"{site.base_url()}/s/{series.slug}",
        host=uid_host(site.core.settings.public_base_url),
    )
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'inline; filename="{series.slug}.ics"',
        "Cache-Control": "public, max-age=900",
    }
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


def _web_safe(session: SessionView) -> SessionView:
    """Only http(s) links reach a page or a calendar (the services check too; pages do not rely on it)."""
    return replace(
        session,
        join_url=session.join_url if session.join_url and _is_http(session.join_url) else None,
        links=tuple(link for link in session.links if _is_http(link.url)),
    )


def _is_http(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)
