"""What a bounce does: every bounce of a person's address is kept (hard or soft, its status and the
server's words); the third hard bounce within 30 days suspends mail to that address. The person and
their subscriptions stay as they are, and so do their other channels; only mail stops. Confirming
the address again (a web sign-up's link) or subscribing again lifts the suspension.

A bounce is matched to the mail that bounced by its Message-ID (each delivery's is stable, see
bot/mail_compose.py, and kept as the row's reference), else by the address it names. A bounce of an
address the bot does not hold (any more) is not kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.bounce_report import Bounce
from bot.models import Delivery, MailBounce, Person, Subscription
from bot.services import audit
from bot.services.context import Ctx
from bot.services.people import person_by_email

HARD_BOUNCES = 3
WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Recorded:
    """What one report changed: the bounces it added and the people whose mail it suspended."""

    added: int
    suspended: tuple[int, ...]


def record_report(ctx: Ctx, ref: str, bounces: Sequence[Bounce]) -> Recorded:
    """Keep the bounces of one report (`ref`: its source and id, so a report read again counts once)
    and suspend whoever now has too many hard bounces."""
    added, suspended = 0, []
    for bounce in bounces:
        person = _person_of(ctx, bounce)
        key = f"{ref}:{bounce.recipient}"[:300]
        if person is None or ctx.s.scalar(select(MailBounce.id).where(MailBounce.key == key)) is not None:
            continue
        at = bounce.reported_at if bounce.reported_at and bounce.reported_at <= ctx.now else ctx.now
        row = MailBounce(
            key=key,
            address=bounce.recipient,
            person_id=person.id,
            at=at,
            hard=bounce.hard,
            status=bounce.status,
            diagnostic=bounce.diagnostic,
        )
        ctx.s.add(row)
        ctx.s.flush()
        added += 1
        audit.record(
            ctx, "mail.bounced", subject=("mail_bounce", row.id), hard=bounce.hard, status=bounce.status
        )
        if bounce.hard and person.mail_suspended_at is None and _recent_hard(ctx, person) >= HARD_BOUNCES:
            person.mail_suspended_at = ctx.now
            audit.record(ctx, "mail.suspended", subject=("person", person.id), hard_bounces=HARD_BOUNCES)
            suspended.append(person.id)
    return Recorded(added, tuple(suspended))


def _person_of(ctx: Ctx, bounce: Bounce) -> Person | None:
    """The person whose current address bounced: the one the bounced mail went to, else whoever
    holds the address. A mail to an address the person no longer has suspends nothing."""
    if bounce.original_message_id:
        person_id = ctx.s.scalar(
            select(Delivery.person_id).where(
                Delivery.external_ref == bounce.original_message_id, Delivery.person_id.is_not(None)
            )
        )
        person = ctx.s.get(Person, person_id) if person_id is not None else None
        if person is not None and (person.email or "").lower() == bounce.recipient:
            return person
    return person_by_email(ctx.s, bounce.recipient)


def _recent_hard(ctx: Ctx, person: Person) -> int:
    """Hard bounces of the person's address in the last 30 days, since any lifted suspension."""
    query = (
        select(func.count())
        .select_from(MailBounce)
        .where(
            MailBounce.person_id == person.id,
            MailBounce.address == (person.email or "").lower(),
            MailBounce.hard.is_(True),
            MailBounce.at >= ctx.now - WINDOW,
        )
    )
    if person.mail_resumed_at is not None:
        query = query.where(MailBounce.at > person.mail_resumed_at)
    return ctx.s.scalar(query) or 0


def lift_suspension(ctx: Ctx, person: Person) -> bool:
    """Mail to `person` again (they confirmed their address or subscribed again); False if it was
    not suspended."""
    if person.mail_suspended_at is None:
        return False
    person.mail_suspended_at, person.mail_resumed_at = None, ctx.now
    audit.record(ctx, "mail.suspension_lifted", subject=("person", person.id))
    return True


@dataclass(frozen=True)
class BounceSummary:
    """A person's bounces for `mine data` and the organisers' lists."""

    hard: int
    soft: int
    last_at: datetime | None
    last_status: str | None
    suspended_at: datetime | None


def summary(ctx: Ctx, person: Person) -> BounceSummary:
    rows = list(
        ctx.s.scalars(select(MailBounce).where(MailBounce.person_id == person.id).order_by(MailBounce.at))
    )
    last = rows[-1] if rows else None
    return BounceSummary(
        hard=sum(1 for r in rows if r.hard),
        soft=sum(1 for r in rows if not r.hard),
        last_at=last.at if last else None,
        last_status=last.status if last else None,
        suspended_at=person.mail_suspended_at,
    )


def suspended_count(ctx: Ctx, series_id: int) -> int:
    """How many of a series' active subscribers get no mail because their address bounced."""
    found = ctx.s.scalar(
        select(func.count())
        .select_from(Subscription)
        .join(Person, Person.id == Subscription.person_id)
        .where(
            Subscription.series_id == series_id,
            Subscription.active.is_(True),
            Person.mail_suspended_at.is_not(None),
        )
    )
    return found or 0


def series_of(ctx: Ctx, person_id: int) -> list[int]:
    """The series `person_id` actively subscribes to (whose organisers hear of a suspension)."""
    return list(
        ctx.s.scalars(
            select(Subscription.series_id)
            .where(Subscription.person_id == person_id, Subscription.active.is_(True))
            .order_by(Subscription.series_id)
        )
    )


@dataclass(frozen=True)
class SubscriberState:
    """One active subscriber as organisers see them: whether mail reaches them, and why not."""

    name: str | None
    email: str | None
    subscribed_at: datetime
    state: str  # "ok", or "mail suspended" after too many hard bounces
    hard_bounces: int  # in the last 30 days
    suspended_at: datetime | None


def subscriber_states(ctx: Ctx, series_id: int, *, suspended_only: bool = False) -> list[SubscriberState]:
    """A series' active subscribers with their mail state, in the order they subscribed."""
    hard = (
        select(MailBounce.person_id, func.count().label("n"))
        .where(MailBounce.hard.is_(True), MailBounce.at >= ctx.now - WINDOW)
        .group_by(MailBounce.person_id)
        .subquery()
    )
    query = (
        select(Person.name, Person.email, Subscription.consented_at, Person.mail_suspended_at, hard.c.n)
        .join(Subscription, Subscription.person_id == Person.id)
        .outerjoin(hard, hard.c.person_id == Person.id)
        .where(Subscription.series_id == series_id, Subscription.active.is_(True))
        .order_by(Subscription.consented_at, Person.id)
    )
    if suspended_only:
        query = query.where(Person.mail_suspended_at.is_not(None))
    return [
        SubscriberState(name, email, since, "mail suspended" if stopped else "ok", n or 0, stopped)
        for name, email, since, stopped, n in ctx.s.execute(query)
    ]
