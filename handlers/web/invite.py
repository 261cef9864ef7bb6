"""«Bring a colleague» on the series page: the inviter gives their name and address and the
colleague's address; the colleague gets one mail with a link to the usual subscribe confirmation
(GET shows a button, the POST subscribes), so nobody is subscribed without their own click.

The form's command goes through the Dispatcher like the chat's `inviter kollega` (the limits, the
audit row and the neutral answer are the core's, bot/services/colleagues.py). The web adds what any
of its mails has: the honeypot, CSRF and the per-client limit. The core's mail hook lands here too
(`colleague_mailer`): the pending subscription and its mail, in the command's transaction.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from bot.commands import Actor, InviteColleague
from bot.delivery.channels import Target
from bot.services.colleagues import MAX_INVITER_NAME, ColleagueMail, ColleagueMailer
from bot.text import is_plain_text, visible
from bot.views import SeriesView
from handlers.web import pending, ratelimit
from handlers.web.confirmations import (
    LINK_PATHS,
    MAX_EMAIL,
    email_problem,
    guarded_post,
    queue_link_mail,
)
from handlers.web.request import WebRequest
from handlers.web.site import Site

# Who sends the form's command: nobody the bot knows (the inviter's address is unconfirmed, so it
# is given in the command, never as the actor's vouched-for address).
INVITE_FORM = Actor(platform="web", external_id="invite-form")
FIELDS = ("name", "email", "colleague")


def invite_path(slug: str) -> str:
    return f"/s/{slug}/invite"


def form(site: Site, req: WebRequest, series: SeriesView) -> Response:
    return _form_page(site, req, series, {}, {})


def submit(site: Site, req: WebRequest, series: SeriesView) -> Response:
    again = invite_path(series.slug)
    if stopped := guarded_post(site, req, again, series.language):
        return stopped
    values = {
        "name": req.field("name", MAX_INVITER_NAME + 1),
        "email": req.field("email", MAX_EMAIL + 1),
        "colleague": req.field("colleague", MAX_EMAIL + 1),
    }
    errors = _problems(values)
    if errors:  # shown again as typed, control characters made visible
        shown = {name: visible(value) for name, value in values.items()}
        return _form_page(site, req, series, shown, errors, status=400)
    if not ratelimit.allow_mail(site.core, site.limits, values["colleague"], req.client):
        return site.problem(req, "too_many", 429, again_url=again, fallback_language=series.language)
    command = InviteColleague(
        values["colleague"], series.slug, inviter_name=values["name"], inviter_email=values["email"]
    )
    reply = site.execute(INVITE_FORM, command)
    if reply.key == "colleague_limit":
        return site.problem(req, "colleague_limit", 429, again_url=f"/s/{series.slug}")
    if reply.key != "colleague_invited":
        return site.problem(req, "unavailable", 503, again_url=again, fallback_language=series.language)
    return RedirectResponse(f"{again}/sent", status_code=303)


def sent(site: Site, req: WebRequest, series: SeriesView) -> Response:
    return site.page(req, "invite_sent", {"series": series}, fallback_language=series.language)


def colleague_mailer(site: Site) -> ColleagueMailer:
    """The core's hook: a pending subscription for the colleague (confirmed through /confirm, as a
    sign-up is) and its one mail naming the inviter, in the command's transaction."""

    def queue(s: Session, mail: ColleagueMail) -> None:
        request_id, token = pending.add(
            s, site.core, pending.SUBSCRIBE, mail.email, language=mail.language, series_id=mail.series.id
        )
        inviter = {"inviter_name": mail.inviter_name, "inviter_email": mail.inviter_email}
        target = Target(mail.email, mail.language)
        path = LINK_PATHS[pending.SUBSCRIBE]
        queue_link_mail(s, site, "confirm_colleague", path, request_id, token, target, mail.series, inviter)
        event.listen(s, "after_commit", lambda _: site.core.deliveries_queued(), once=True)

    return queue


def _problems(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "name_missing"
    elif len(values["name"]) > MAX_INVITER_NAME:
        errors["name"] = "name_too_long"
    elif not is_plain_text(values["name"]) or "://" in values["name"] or "www." in values["name"].lower():
        errors["name"] = "name_invalid"
    if problem := email_problem(values["email"]):
        errors["email"] = problem
    if problem := email_problem(values["colleague"]):
        errors["colleague"] = "colleague_" + problem
    return errors


def _form_page(
    site: Site,
    req: WebRequest,
    series: SeriesView,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    data = {"series": series, "values": {name: "" for name in FIELDS} | values, "errors": errors}
    return site.page(req, "invite", data, status=status, fallback_language=series.language)
