"""«Bring a colleague»: someone asks the bot to invite a colleague to a series. The colleague gets
one mail naming the inviter, with a double opt-in link; nothing is subscribed until they confirm it
themselves (the web's confirmation page, a POST).

The answer never tells whether a mail went: an address already subscribed to the series, once
unsubscribed from it or erased, or invited to it within the quiet period, gets no mail, and the
inviter hears the same as when it went. Only the inviter's own limit per day is said plainly.
Invitations are kept as keyed hashes (who asked, for whom), never as addresses.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.addresses import BadAddress, mailbox
from bot.models import ColleagueInvitation, Person, Series, Subscription
from bot.services import audit
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.people import email_hash, find_person, normalise_email
from bot.text import is_plain_text, visible
from bot.views import SeriesView

DAY = timedelta(days=1)
MAX_INVITER_NAME = 100


@dataclass(frozen=True)
class ColleagueMail:
    """The one mail to an invited colleague, in the series' language."""

    invitation_id: int
    series: SeriesView
    email: str
    inviter_name: str | None
    inviter_email: str | None
    language: str


# Queues that mail in the caller's transaction (the web channel's confirmation mail).
ColleagueMailer = Callable[[Session, ColleagueMail], None]


def invite(
    ctx: Ctx, series: Series, email: str, *, inviter_name: str | None = None, inviter_email: str | None = None
) -> bool:
    """Invite `email` to `series` for the context's actor (or the name and address a web form gave);
    True when a mail was queued. Refuses a bad address, an inviter over the day's limit, and a bot
    without a channel that sends the mail."""
    try:
        address = mailbox(email)
    except BadAddress:
        raise UserError("bad_address", address=visible(email)) from None
    if ctx.colleague_mail is None:
        raise UserError("colleague_unavailable", series=SeriesView.of(series))
    person = find_person(ctx.s, ctx.actor)
    name = _inviter_name(inviter_name or ctx.actor.name or (person.name if person else None))
    inviter_address = inviter_email or ctx.actor.email or (person.email if person else None)
    inviter = _keyed(ctx, normalise_email(inviter_address) if inviter_address else ctx.actor.label)
    limit = ctx.config.colleague_invites_per_day
    asked = ctx.s.scalar(
        select(func.count())
        .select_from(ColleagueInvitation)
        .where(ColleagueInvitation.inviter_hash == inviter, ColleagueInvitation.created_at > ctx.now - DAY)
    )
    if (asked or 0) >= limit:
        raise UserError("colleague_limit", limit=limit, series=SeriesView.of(series))
    invitee = _keyed(ctx, address)
    mailed = not _known(ctx, series, address) and not _invited_lately(ctx, series, invitee)
    row = ColleagueInvitation(
        series_id=series.id, inviter_hash=inviter, invitee_hash=invitee, created_at=ctx.now, mailed=mailed
    )
    ctx.s.add(row)
    ctx.s.flush()
    audit.record(
        ctx, "colleague.invited", series_id=series.id, subject=("colleague_invitation", row.id), mailed=mailed
    )
    if mailed:
        view = SeriesView.of(series)
        ctx.colleague_mail(
            ctx.s, ColleagueMail(row.id, view, address, name, inviter_address, series.language)
        )
    return mailed


def _inviter_name(name: str | None) -> str | None:
    """A name fit to stand in a mail to someone else: one line of plain text, short, no link."""
    if not name:
        return None
    name = " ".join(name.split())[:MAX_INVITER_NAME]
    if not is_plain_text(name) or "://" in name or "www." in name.lower():
        return None
    return name or None


def _known(ctx: Ctx, series: Series, address: str) -> bool:
    """Whether the address has ever been subscribed to the series, or was erased: it gets no mail."""
    people = ctx.s.scalars(
        select(Person).where(
            or_(Person.email == address, Person.email_hash == email_hash(ctx.config.secret_key, address))
        )
    ).all()
    if any(person.erased_at is not None for person in people):
        return True
    ids = [person.id for person in people]
    if not ids:
        return False
    found = ctx.s.scalar(
        select(Subscription.id).where(Subscription.person_id.in_(ids), Subscription.series_id == series.id)
    )
    return found is not None


def _invited_lately(ctx: Ctx, series: Series, invitee: str) -> bool:
    since = ctx.now - timedelta(days=ctx.config.colleague_invite_quiet_days)
    found = ctx.s.scalar(
        select(ColleagueInvitation.id).where(
            ColleagueInvitation.series_id == series.id,
            ColleagueInvitation.invitee_hash == invitee,
            ColleagueInvitation.mailed.is_(True),
            ColleagueInvitation.created_at > since,
        )
    )
    return found is not None


def _keyed(ctx: Ctx, value: str) -> str:
    digest = hmac.new(ctx.config.secret_key.encode(), b"colleague:" + value.encode(), hashlib.sha256)
    return digest.hexdigest()
