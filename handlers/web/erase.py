"""Erasing everything the bot holds about an address (GDPR art. 17), confirmed by mail.

Request by address → the same "check your mail" answer for every address → link → a page with a
button (GET changes nothing) → POST erases through the Dispatcher with `ForgetMe(confirmed=True)`.
"""

from __future__ import annotations

from starlette.responses import Response

from bot.commands import Actor, ForgetMe
from bot.text import visible
from handlers.web import pending
from handlers.web.confirmations import MAX_EMAIL, email_problem, guarded_post, pending_of_link, send_link
from handlers.web.request import WebRequest
from handlers.web.site import Site, masked

START = "/erase"
SENT = "/erase/sent"


def form(site: Site, req: WebRequest) -> Response:
    return site.page(req, "erase", {"values": {"email": ""}, "errors": {}})


def submit(site: Site, req: WebRequest) -> Response:
    if stopped := guarded_post(site, req, START):
        return stopped
    email = req.field("email", MAX_EMAIL + 1)
    if problem := email_problem(email):
        data = {"values": {"email": visible(email)}, "errors": {"email": problem}}
        return site.page(req, "erase", data, status=400)
    return send_link(
        site,
        req,
        purpose=pending.ERASE,
        email=email,
        language=site.language(req),
        sent_url=SENT,
        again_url=START,
    )


def sent(site: Site, req: WebRequest) -> Response:
    return site.page(req, "sent", {"series": None, "purpose": "erase"})


def confirm_page(site: Site, req: WebRequest) -> Response:
    found = pending_of_link(site, req, pending.ERASE, lambda _: START)
    if isinstance(found, Response):
        return found
    if found.confirmed or found.email is None:
        return site.page(req, "erased", {"outcome": "already_done"})
    data = {"address": masked(found.email), "token": req.param("token")}
    return site.page(req, "confirm_erase", data, fallback_language=found.language)


def confirm(site: Site, req: WebRequest) -> Response:
    found = pending_of_link(site, req, pending.ERASE, lambda _: START)
    if isinstance(found, Response):
        return found
    if not site.csrf_ok(req):
        return site.problem(req, "csrf", 403, again_url=req.path, fallback_language=found.language)
    if found.confirmed or found.email is None:
        return site.page(req, "erased", {"outcome": "already_done"})
    actor = Actor(platform="email", external_id=found.email, email=found.email)
    reply = site.execute(actor, ForgetMe(confirmed=True))
    if reply.key not in ("forgotten", "nothing_stored"):
        return site.problem(req, "unavailable", 503, again_url=req.path)
    pending.mark_confirmed(site.core, found)
    return site.page(req, "erased", {"outcome": reply.key}, fallback_language=found.language)
