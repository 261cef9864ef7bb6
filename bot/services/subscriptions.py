"""Joining and leaving a series' list. A subscription is never deleted, only deactivated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select

from bot.models import AuditEvent, Person, Series, Subscription
from bot.services import audit, bounces
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.people import find_person, get_or_create_person

CREATED = "subscription.created"


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
        return Outcome(True, create_subscriptions(ctx, [person.id], series)[0])
    sub.active, sub.consented_at, sub.source_channel = True, ctx.now, ctx.channel
    sub.unsubscribed_at = sub.unsubscribe_channel = None
    ctx.s.flush()
    audit.record(
        ctx,
        "subscription.reactivated",
        series_id=series.id,
        subject=("subscription", sub.id),
        person_id=person.id,
    )
    return Outcome(True, sub)


def create_subscriptions(
    ctx: Ctx, person_ids: Sequence[int], series: Series, *, channel: str | None = None
) -> list[Subscription]:
    """New active subscriptions to `series` for people who have none, consented now through `channel`
    (default: the actor's), inserted together and audited with one event each.

    The caller checks that none of them has a subscription (active or not) to `series`: this never
    reactivates, so a bulk caller cannot override an unsubscribe by accident.
    """
    if not person_ids:
        return []
    channel = channel or ctx.channel
    rows = [
        {
            "person_id": pid,
            "series_id": series.id,
            "active": True,
            "source_channel": channel,
            "consented_at": ctx.now,
        }
        for pid in person_ids
    ]
    subs = list(
        ctx.s.scalars(insert(Subscription).returning(Subscription, sort_by_parameter_order=True), rows)
    )
    _record_each(ctx, CREATED, subs, channel)
    return subs


def _record_each(ctx: Ctx, action: str, subs: Sequence[Subscription], channel: str) -> None:
    """One audit event per subscription. The first goes through `audit.record`, which resolves the
    actor; the rest copy its actor fields and are inserted in one statement (bulk imports)."""
    first = audit.record(
        ctx,
        action,
        series_id=subs[0].series_id,
        subject=("subscription", subs[0].id),
        person_id=subs[0].person_id,
    )
    first.channel = channel
    ctx.s.flush()
    rest = [
        {
            "at": first.at,
            "channel": channel,
            "actor_person_id": first.actor_person_id,
            "actor_label": first.actor_label,
            "action": action,
            "series_id": sub.series_id,
            "subject_type": "subscription",
            "subject_id": sub.id,
            "details": {"person_id": sub.person_id},
        }
        for sub in subs[1:]
    ]
    if rest:
        # render_nulls keeps the rows in one statement (see subscriber_csv.importing).
        ctx.s.execute(insert(AuditEvent).execution_options(render_nulls=True), rest)


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
    known = find_person(ctx.s, ctx.actor) is not None
    person = get_or_create_person(ctx.s, ctx.actor, ctx.now)
    # Asking to subscribe (a confirmed web sign-up included) is the person vouching for their
    # address again: mail suspended after bounces resumes.
    bounces.lift_suspension(ctx, person)
    if not known:  # made just now: there is no subscription to look for
        return Outcome(True, create_subscriptions(ctx, [person.id], series)[0])
    return subscribe_person(ctx, person, series)


def unsubscribe(ctx: Ctx, series: Series) -> Outcome:
    person = find_person(ctx.s, ctx.actor)
    if person is None:
        return Outcome(False, None)
    return unsubscribe_person(ctx, person, series)


def set_direct_messages(ctx: Ctx, series: Series, enabled: bool) -> Outcome:
    """Reminders as direct messages on or off; only for an active subscription."""
    person = find_person(ctx.s, ctx.actor)
    sub = subscription_of(ctx, person, series) if person else None
    if sub is None or not sub.active:
        raise UserError("dm_needs_subscription", series=series.name)
    if sub.direct_messages == enabled:
        return Outcome(False, sub)
    sub.direct_messages = enabled
    audit.record(
        ctx,
        "subscription.direct_messages",
        series_id=series.id,
        subject=("subscription", sub.id),
        enabled=enabled,
    )
    return Outcome(True, sub)


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


def find_subscribers(ctx: Ctx, series: Series, text: str, *, limit: int, offset: int = 0) -> list[Person]:
    """Active subscribers of `series` whose address or name contains `text` (any case), by address."""
    query = (
        select(Person)
        .join(Subscription, Subscription.person_id == Person.id)
        .where(Subscription.series_id == series.id, Subscription.active.is_(True))
    )
    if text.strip():
        needle = text.strip().lower()
        query = query.where(
            or_(
                func.lower(Person.email).contains(needle, autoescape=True),
                func.lower(Person.name).contains(needle, autoescape=True),
            )
        )
    return list(ctx.s.scalars(query.order_by(Person.email, Person.id).limit(limit).offset(offset)))
