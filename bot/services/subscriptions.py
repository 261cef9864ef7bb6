"""Joining and leaving a series' list. A subscription is never deleted, only deactivated."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.models import Person, Series, Subscription
from bot.services import audit
from bot.services.context import Ctx
from bot.services.people import find_person, get_or_create_person


@dataclass(frozen=True)
class Outcome:
    changed: bool
    subscription: Subscription | None


def subscription_of(ctx: Ctx, person: Person, series: Series) -> Subscription | None:
    return ctx.s.scalar(
        select(Subscription).where(Subscription.person_id == person.id, Subscription.series_id == series.id)
    )


def subscribe_person(ctx: Ctx, person: Person, series: Series) -> Outcome:
    """Activate `person`'s subscription to `series`; unchanged when already active."""
    sub = subscription_of(ctx, person, series)
    if sub is not None and sub.active:
        return Outcome(False, sub)
    if sub is None:
        sub = Subscription(
            person_id=person.id, series_id=series.id, source_channel=ctx.channel, consented_at=ctx.now
        )
        ctx.s.add(sub)
        action = "subscription.created"
    else:
        sub.active, sub.consented_at, sub.source_channel = True, ctx.now, ctx.channel
        sub.unsubscribed_at = sub.unsubscribe_channel = None
        action = "subscription.reactivated"
    ctx.s.flush()
    audit.record(ctx, action, series_id=series.id, subject=("subscription", sub.id), person_id=person.id)
    return Outcome(True, sub)


def unsubscribe_person(ctx: Ctx, person: Person, series: Series) -> Outcome:
    """Deactivate, keeping the record of when and how; unchanged when not subscribed."""
    sub = subscription_of(ctx, person, series)
    if sub is None or not sub.active:
        return Outcome(False, sub)
    sub.active, sub.unsubscribed_at, sub.unsubscribe_channel = False, ctx.now, ctx.channel
    ctx.s.flush()
    audit.record(
        ctx, "subscription.ended", series_id=series.id, subject=("subscription", sub.id), person_id=person.id
    )
    return Outcome(True, sub)


def subscribe(ctx: Ctx, series: Series) -> Outcome:
    return subscribe_person(ctx, get_or_create_person(ctx.s, ctx.actor, ctx.now), series)


def unsubscribe(ctx: Ctx, series: Series) -> Outcome:
    person = find_person(ctx.s, ctx.actor)
    if person is None:
        return Outcome(False, None)
    return unsubscribe_person(ctx, person, series)


def active_count(ctx: Ctx, series: Series) -> int:
    return (
        ctx.s.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.series_id == series.id, Subscription.active.is_(True))
        )
        or 0
    )


def subscriptions_of(ctx: Ctx, person: Person) -> list[Subscription]:
    return list(
        ctx.s.scalars(
            select(Subscription).where(Subscription.person_id == person.id).order_by(Subscription.id)
        )
    )
