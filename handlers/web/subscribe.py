"""Subscribe with double opt-in: the form, the "check your mail" page, and the confirmation link.

The link's GET only shows a button (mail scanners open every link); the POST subscribes, through the
Dispatcher, as the address that has now proved it reads its mail.
"""

from __future__ import annotations

from starlette.responses import Response

from bot.commands import Actor, Subscribe
from bot.settings import LANGUAGES
from bot.text import is_plain_text, visible
from bot.views import SeriesView
from handlers.web import pending
from handlers.web.confirmations import (
    MAX_EMAIL,
    MAX_NAME,
    email_problem,
    guarded_post,
    send_link,
    series_link,
)
from handlers.web.request import WebRequest
from handlers.web.site import Site, masked

SUBSCRIBED = ("subscribed", "already_subscribed")


def form(site: Site, req: WebRequest, series: SeriesView) -> Response:
    return _form_page(site, req, series, {}, {})


def submit(site: Site, req: WebRequest, series: SeriesView) -> Response:
    again = _subscribe_path(series.slug)
    if stopped := guarded_post(site, req, again, series.language):
        return stopped
    values = {
        "email": req.field("email", MAX_EMAIL + 1),
        "name": req.field("name", MAX_NAME + 1),
        "language": req.field("language", 8),
    }
    errors = {}
    if problem := email_problem(values["email"]):
        errors["email"] = problem
    if len(values["name"]) > MAX_NAME:
        errors["name"] = "name_too_long"
    elif not is_plain_text(values["name"]):
        errors["name"] = "name_invalid"
    if values["language"] not in LANGUAGES:
        errors["language"] = "language_missing"
    if errors:  # shown again as typed, control characters made visible
        shown = {name: visible(value) for name, value in values.items()}
        return _form_page(site, req, series, shown, errors, status=400)
    return send_link(
        site,
        req,
        purpose=pending.SUBSCRIBE,
        email=values["email"],
        name=values["name"] or None,
        language=values["language"],
        series=series,
        sent_url=f"{again}/sent",
        again_url=again,
    )


def sent(site: Site, req: WebRequest, series: SeriesView) -> Response:
    data = {"series": series, "purpose": "subscribe"}
    return site.page(req, "sent", data, fallback_language=series.language)


def confirm_page(site: Site, req: WebRequest) -> Response:
    link = series_link(site, req, pending.SUBSCRIBE, _subscribe_path)
    if isinstance(link, Response):
        return link
    found, series = link
    if found.confirmed or found.email is None:
        return _result(site, req, series, "already_confirmed")
    data = {"series": series, "address": masked(found.email), "token": req.param("token")}
    return site.page(req, "confirm_subscribe", data, fallback_language=found.language)


def confirm(site: Site, req: WebRequest) -> Response:
    link = series_link(site, req, pending.SUBSCRIBE, _subscribe_path)
    if isinstance(link, Response):
        return link
    found, series = link
    if not site.csrf_ok(req):
        return site.problem(req, "csrf", 403, again_url=req.path, fallback_language=found.language)
    if found.confirmed or found.email is None:
        return _result(site, req, series, "already_confirmed")
    actor = Actor(
        platform="email",
        external_id=found.email,
        email=found.email,
        name=found.name,
        language=found.language,
    )
    reply = site.execute(actor, Subscribe(series=series.slug))
    if reply.key not in SUBSCRIBED:
        return site.problem(req, "unavailable", 503, again_url=req.path)
    pending.mark_confirmed(site.core, found)
    return _result(site, req, series, reply.key, language=reply.language)


def _result(
    site: Site, req: WebRequest, series: SeriesView, outcome: str, language: str | None = None
) -> Response:
    data = {"series": series, "outcome": outcome}
    return site.page(req, "subscribed", data, fallback_language=language or series.language)


def _form_page(
    site: Site,
    req: WebRequest,
    series: SeriesView,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    language = site.language(req, series.language)
    values = {"email": "", "name": "", **values}
    values.setdefault("language", language)
    if values["language"] not in LANGUAGES:
        values["language"] = language
    data = {"series": series, "values": values, "errors": errors}
    return site.page(req, "subscribe", data, status=status, fallback_language=series.language)


def _subscribe_path(slug: str) -> str:
    return f"/s/{slug}/subscribe"
