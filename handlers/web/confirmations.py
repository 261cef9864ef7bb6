"""Asking for a confirmation mail (subscribe, erase) and reading the link that comes back.

The answer to a request never depends on whether the address is known: the same page, the same
mail, the same limits. Only the person who can read the mailbox learns more, by clicking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.responses import RedirectResponse, Response

from bot.addresses import is_mailbox, mailbox
from bot.error_policy import describe
from bot.mail import MailFailed
from bot.tokens import CONFIRM_VALID_FOR, ExpiredToken, InvalidToken, read_confirm_token
from bot.views import SeriesView
from handlers.web import pending, ratelimit
from handlers.web.mails import confirmation_mail
from handlers.web.pending import Pending
from handlers.web.request import WebRequest
from handlers.web.site import Site

log = logging.getLogger(__name__)
HONEYPOT = "website"  # hidden from people; a bot that fills every field gives itself away
MAX_EMAIL = 320
MAX_NAME = 200


def email_problem(email: str) -> str | None:
    """None for one usable mailbox (bot.addresses), else the message key for the form."""
    if not email:
        return "email_missing"
    if len(email) > MAX_EMAIL or not is_mailbox(email):
        return "email_invalid"
    return None


def filled_by_a_bot(req: WebRequest) -> bool:
    return bool(req.form.get(HONEYPOT, "").strip())


def send_link(
    site: Site,
    req: WebRequest,
    *,
    purpose: str,
    email: str,
    language: str,
    sent_url: str,
    again_url: str,
    series: SeriesView | None = None,
    name: str | None = None,
) -> Response:
    """Rate-limit, store the request, mail its link, and send the browser on to `sent_url`."""
    core = site.core
    email = mailbox(email)  # the one form: "Kari@X.no" and "kari@x.no" share their limit and request
    if not ratelimit.allow_mail(core, site.limits, email, req.client):
        return site.problem(req, "too_many", 429, again_url=again_url)
    token = pending.create(
        core, purpose, email, name=name, language=language, series_id=series.id if series else None
    )
    path = "confirm" if purpose == pending.SUBSCRIBE else "erase"
    message = confirmation_mail(
        core.renderer,
        f"confirm_{purpose}",
        email,
        link=f"{site.base_url()}/{path}/{token}",
        valid_until=core.clock.now() + CONFIRM_VALID_FOR,
        language=language,
        timezone=series.timezone if series else core.settings.timezone,
        data={"series": series},
    )
    try:
        site.mailer.send(message)
    except MailFailed as exc:
        log.warning("the %s confirmation mail was not sent: %s", purpose, describe(exc))
        return site.problem(req, "mail_failed", 503, again_url=again_url)
    return RedirectResponse(sent_url, status_code=303)


def pending_of_link(
    site: Site, req: WebRequest, purpose: str, again_url: Callable[[Pending | None], str]
) -> Pending | Response:
    """The request a confirmation link stands for, or the page explaining why the link is no good:
    400 for a damaged or unknown link, 410 for an expired one (both with a way to start again)."""
    try:
        token_hash = read_confirm_token(site.secret_key, site.core.clock, req.param("token"))
    except InvalidToken:
        return site.problem(req, "invalid_link", 400, again_url=again_url(None))
    except ExpiredToken as expired:
        found = pending.find(site.core, expired.token_hash or "", purpose)
        return site.problem(req, "expired_link", 410, again_url=again_url(found))
    found = pending.find(site.core, token_hash, purpose)
    if found is None:
        return site.problem(req, "invalid_link", 400, again_url=again_url(None))
    return found
