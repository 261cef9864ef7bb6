"""Leaving a series without a personal link (the Exchange invitation has none): type the address,
get a link by mail, press the button behind it.

The same rules as subscribing: the page answers the same whether or not the address is on the list
(nothing is looked up before the click), mails are limited per address and per client and go through
the outbox. The link's GET shows a button and changes nothing (mail scanners open every link); the
POST unsubscribes through the Dispatcher, one transaction with its audit row, as the address that
has just proved it reads its mail.
"""

from __future__ import annotations

from starlette.responses import Response

from bot.commands import Actor, Unsubscribe
from bot.text import visible
from bot.views import SeriesView
from handlers.web import pending
from handlers.web.confirmations import MAX_EMAIL, email_problem, guarded_post, send_link, series_link
from handlers.web.pending import Pending
from handlers.web.request import WebRequest
from handlers.web.site import Site, masked

LEFT = ("unsubscribed", "not_subscribed")


def leave_path(slug: str) -> str:
    return f"/s/{slug}/leave"


def form(site: Site, req: WebRequest, series: SeriesView) -> Response:
    data = {"series": series, "values": {"email": ""}, "errors": {}}
    return site.page(req, "leave", data, fallback_language=series.language)


def submit(site: Site, req: WebRequest, series: SeriesView) -> Response:
    again = leave_path(series.slug)
    if stopped := guarded_post(site, req, again, series.language):
        return stopped
    email = req.field("email", MAX_EMAIL + 1)
    if problem := email_problem(email):
        data = {"series": series, "values": {"email": visible(email)}, "errors": {"email": problem}}
        return site.page(req, "leave", data, status=400, fallback_language=series.language)
    return send_link(
        site,
        req,
        purpose=pending.LEAVE,
        email=email,
        language=site.language(req, series.language),
        series=series,
        sent_url=f"{again}/sent",
        again_url=again,
    )


def sent(site: Site, req: WebRequest, series: SeriesView) -> Response:
    return site.page(req, "leave_sent", {"series": series}, fallback_language=series.language)


def confirm_page(site: Site, req: WebRequest) -> Response:
    link = series_link(site, req, pending.LEAVE, leave_path)
    if isinstance(link, Response):
        return link
    found, series = link
    if found.confirmed or found.email is None:
        return _result(site, req, found, series, "unsubscribed")
    data = {"series": series, "address": masked(found.email), "token": req.param("token")}
    return site.page(req, "confirm_leave", data, fallback_language=found.language)


def confirm(site: Site, req: WebRequest) -> Response:
    link = series_link(site, req, pending.LEAVE, leave_path)
    if isinstance(link, Response):
        return link
    found, series = link
    if not site.csrf_ok(req):
        return site.problem(req, "csrf", 403, again_url=req.path, fallback_language=found.language)
    if found.confirmed or found.email is None:  # a second press: the first one did it
        return _result(site, req, found, series, "unsubscribed")
    actor = Actor(platform="email", external_id=found.email, email=found.email)
    reply = site.execute(actor, Unsubscribe(series=series.slug))
    if reply.key not in LEFT:
        return site.problem(req, "unavailable", 503, again_url=req.path)
    pending.mark_confirmed(site.core, found)
    return _result(site, req, found, series, reply.key)


def _result(site: Site, req: WebRequest, found: Pending, series: SeriesView, outcome: str) -> Response:
    data = {"series": series, "outcome": outcome, "undo": None, "token": None}
    return site.page(req, "unsubscribed", data, fallback_language=found.language)
