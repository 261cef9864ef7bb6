"""Asking for a confirmation mail (subscribe, leave, erase) and reading the link that comes back.

The answer to a request never depends on whether the address is known: the same page, the same
mail, the same limits. Only the person who can read the mailbox learns more, by clicking.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from bot.addresses import is_mailbox, mailbox
from bot.delivery import kinds
from bot.delivery.channels import Target
from bot.delivery.fanouts import one_message
from bot.models import Series
from bot.tokens import CONFIRM_VALID_FOR, ExpiredToken, InvalidToken, read_confirm_token
from bot.views import SeriesView
from handlers.web import pending, ratelimit
from handlers.web.mail_sender import CHANNEL, confirmation_payload
from handlers.web.pending import Pending
from handlers.web.request import WebRequest
from handlers.web.site import Site

HONEYPOT = "website"  # hidden from people; a bot that fills every field gives itself away
MAX_EMAIL = 320
MAX_NAME = 200
# Where each purpose's mailed link leads: /<path>/<token>.
LINK_PATHS = {pending.SUBSCRIBE: "confirm", pending.LEAVE: "leave", pending.ERASE: "erase"}


def email_problem(email: str) -> str | None:
    """None for one usable mailbox (bot.addresses), else the message key for the form."""
    if not email:
        return "email_missing"
    if len(email) > MAX_EMAIL or not is_mailbox(email):
        return "email_invalid"
    return None


def guarded_post(site: Site, req: WebRequest, again_url: str, language: str | None = None) -> Response | None:
    """What a public form's POST meets first: a bad CSRF token is a 403 page leading back to the form
    (`again_url`); a filled honeypot is sent on to `again_url/sent` as if its mail went. None: go on."""
    if not site.csrf_ok(req):
        return site.problem(req, "csrf", 403, again_url=again_url, fallback_language=language)
    if req.form.get(HONEYPOT, "").strip():  # hidden from people: a bot filled it
        return RedirectResponse(f"{again_url}/sent", status_code=303)
    return None


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
    """Rate-limit, store the request, queue the mail with its link (the outbox sends it, at the
    mailbox's pace: nobody's request waits for a slot), and send the browser on to `sent_url`."""
    core = site.core
    email = mailbox(email)  # the one form: "Kari@X.no" and "kari@x.no" share their limit and request
    if not ratelimit.allow_mail(core, site.limits, email, req.client):
        return site.problem(req, "too_many", 429, again_url=again_url)

    def queue_mail(s: Session, request_id: int, token: str) -> None:
        target = Target(email, language)
        queue_link_mail(s, site, f"confirm_{purpose}", LINK_PATHS[purpose], request_id, token, target, series)

    series_id = series.id if series else None
    pending.create(core, purpose, email, name=name, language=language, series_id=series_id, then=queue_mail)
    core.deliveries_queued()
    return RedirectResponse(sent_url, status_code=303)


def queue_link_mail(
    s: Session,
    site: Site,
    template: str,
    path: str,
    request_id: int,
    token: str,
    target: Target,
    series: SeriesView | None,
    data: dict[str, str | None] | None = None,
) -> None:
    """Queue the mail carrying a request's link (`/<path>/<token>`) in the outbox, in `s`."""
    now = site.core.clock.now()
    payload = confirmation_payload(
        template,
        f"{site.base_url()}/{path}/{token}",
        now + CONFIRM_VALID_FOR,
        series.timezone if series else site.core.settings.timezone,
        series=series is not None,
        data=data,
    )
    one_message(
        s,
        key=f"{kinds.CONFIRMATION}:{request_id}",
        kind=kinds.CONFIRMATION,
        series_id=series.id if series else _any_series(s),
        channel=CHANNEL,
        target=target,
        payload=payload,
        now=now,
    )


def _any_series(s: Session) -> int:
    """An outbox row belongs to a series; a mail about no series (an erasure) to the first one."""
    found = s.scalar(select(Series.id).order_by(Series.id).limit(1))
    if found is None:
        raise LookupError("no series: the database is not set up")
    return found


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


def series_link(
    site: Site, req: WebRequest, purpose: str, again_path: Callable[[str], str]
) -> tuple[Pending, SeriesView] | Response:
    """A confirmation link about a series (subscribe, leave) and its series, or the page explaining
    why there is nothing to confirm. `again_path(slug)` is where to start again: a series' form."""

    def again(found: Pending | None) -> str:
        series = site.series_by_id(found.series_id) if found and found.series_id else None
        return again_path(series.slug) if series else "/"

    found = pending_of_link(site, req, purpose, again)
    if isinstance(found, Response):
        return found
    series = site.series_by_id(found.series_id or 0)
    if series is None:
        return site.problem(req, "unknown_series", 404, again_url="/")
    return found, series
