"""Leaving a list from the personal link in every mail.

GET shows a button and changes nothing (mail scanners open links). POST with the form's CSRF field
unsubscribes; so does RFC 8058's one-click POST (`List-Unsubscribe=One-Click`), which a mail client
sends without cookies: the signed token in the URL is what authorises both. The result page offers to
undo, with a token valid for a day, only when this request actually ended a subscription.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from bot.commands import Actor, Subscribe, Unsubscribe
from bot.services import public
from bot.tokens import ExpiredToken, InvalidToken, read_undo_token, read_unsubscribe_token, undo_token
from bot.views import SeriesView
from handlers.web.request import WebRequest
from handlers.web.site import Site, masked

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


@dataclass(frozen=True)
class Subscriber:
    """Who a link was made for, as found now: the address is None once they were erased."""

    person_id: int
    series: SeriesView
    email: str | None
    active: bool


def page(site: Site, req: WebRequest) -> Response:
    found = _subscriber(site, req)
    if isinstance(found, Response):
        return found
    if found.email is None or not found.active:
        return _result(site, req, found, "not_subscribed")
    data = {"series": found.series, "address": masked(found.email), "token": req.param("token")}
    return site.page(req, "unsubscribe", data, fallback_language=found.series.language)


def submit(site: Site, req: WebRequest) -> Response:
    found = _subscriber(site, req)
    if isinstance(found, Response):
        return found
    one_click = req.form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    if not one_click and not site.csrf_ok(req):
        return site.problem(req, "csrf", 403, again_url=req.path, fallback_language=found.series.language)
    if found.email is None:
        return _result(site, req, found, "not_subscribed")
    reply = site.execute(_actor(found.email), Unsubscribe(series=found.series.slug))
    if reply.key not in ("unsubscribed", "not_subscribed"):
        return site.problem(req, "unavailable", 503, again_url=req.path)
    undo = None
    if reply.key == "unsubscribed" and not one_click:
        undo = undo_token(site.secret_key, site.core.clock, found.person_id, found.series.id)
    return _result(site, req, found, reply.key, undo=undo)


def resubscribe(site: Site, req: WebRequest) -> Response:
    """Undo an unsubscribe from its result page: the person just proved they hold the link."""
    found = _subscriber(site, req)
    if isinstance(found, Response):
        return found
    again = f"/s/{found.series.slug}/subscribe"
    if not site.csrf_ok(req):
        return site.problem(req, "csrf", 403, again_url=req.path, fallback_language=found.series.language)
    try:
        ids = read_undo_token(site.secret_key, site.core.clock, req.form.get("undo", ""))
    except InvalidToken:
        return site.problem(req, "invalid_link", 400, again_url=again)
    except ExpiredToken:
        return site.problem(req, "expired_link", 410, again_url=again)
    if ids != (found.person_id, found.series.id):
        return site.problem(req, "invalid_link", 400, again_url=again)
    if found.email is None:
        return site.problem(req, "expired_link", 410, again_url=again)
    reply = site.execute(_actor(found.email), Subscribe(series=found.series.slug))
    if reply.key not in ("subscribed", "already_subscribed"):
        return site.problem(req, "unavailable", 503, again_url=req.path)
    data = {"series": found.series, "outcome": reply.key}
    return site.page(req, "subscribed", data, fallback_language=found.series.language)


def _subscriber(site: Site, req: WebRequest) -> Subscriber | Response:
    try:
        person_id, series_id = read_unsubscribe_token(site.secret_key, req.param("token"))
    except InvalidToken:
        return site.problem(req, "invalid_link", 400, again_url="/")
    with site.reading() as ctx:
        series = public.series_by_id(ctx, series_id)
        found = (
            Subscriber(
                person_id,
                SeriesView.of(series),
                public.person_email(ctx, person_id),
                public.is_subscribed(ctx, person_id, series),
            )
            if series is not None
            else None
        )
    return found or site.problem(req, "unknown_series", 404, again_url="/")


def _actor(email: str) -> Actor:
    """The person behind a mail link, known by the address the link was sent to."""
    return Actor(platform="email", external_id=email, email=email)


def _result(
    site: Site, req: WebRequest, found: Subscriber, outcome: str, *, undo: str | None = None
) -> Response:
    data = {"series": found.series, "outcome": outcome, "undo": undo, "token": req.param("token")}
    return site.page(req, "unsubscribed", data, fallback_language=found.series.language)
