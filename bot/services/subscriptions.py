"""Joining and leaving a series' list. A subscription is never deleted, only deactivated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Integer, String, Table, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.orm.util import identity_key

from bot.db import ByDialect
from bot.models import AuditEvent, Person, Series, Subscription
from bot.services import audit, bounces, newcomers
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.people import find_person, get_or_create_person, is_remembered

CREATED = "subscription.created"
ENDED = "subscription.ended"


@dataclass(frozen=True)
class Outcome:
    changed: bool
    subscription_id: int | None


def subscription_of(ctx: Ctx, person: Person, series: Series) -> Subscription | None:
    return ctx.s.scalar(_SUBSCRIPTION_OF, {"person": person.id, "series": series.id})


# The hot path's statements, built once (see services.people) and run on the table, not through
# the unit of work: a subscribe or an unsubscribe is a few of them, and the ORM's flush of each
# changed object used to cost several times the SQL.
_TABLE = cast(Table, Subscription.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)
_SUBSCRIPTION_OF = select(Subscription).where(
    Subscription.person_id == bindparam("person"), Subscription.series_id == bindparam("series")
)
_STATE = select(_TABLE.c.id, _TABLE.c.active).where(
    _TABLE.c.person_id == bindparam("person"), _TABLE.c.series_id == bindparam("series")
)
_INSERT = insert(_TABLE).returning(_TABLE.c.id, _TABLE.c.person_id, sort_by_parameter_order=True)
_REACTIVATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("sub"), _TABLE.c.active.is_(False))
    .values(
        active=True,
        consented_at=bindparam("now"),
        source_channel=bindparam("channel"),
        unsubscribed_at=None,
        unsubscribe_channel=None,
    )
)
# Only an active subscription ends, in the statement that ends it: two at once end it once.
_END = (
    update(_TABLE)
    .where(
        _TABLE.c.person_id == bindparam("person"),
        _TABLE.c.series_id == bindparam("series"),
        _TABLE.c.active.is_(True),
    )
    .values(active=False, unsubscribed_at=bindparam("now"), unsubscribe_channel=bindparam("channel"))
    .returning(_TABLE.c.id)
)


def subscribe_person(ctx: Ctx, person: Person, series: Series) -> Outcome:
    """Activate `person`'s subscription to `series`; unchanged when already active."""
    found = ctx.s.execute(_STATE, {"person": person.id, "series": series.id}).first()
    return _activate(ctx, person, series, (found.id, found.active) if found is not None else None)


def _activate(ctx: Ctx, person: Person, series: Series, found: tuple[int, bool] | None) -> Outcome:
    """`subscribe_person` once the subscription (its id, whether active) or None was read."""
    if found is not None and found[1]:
        return Outcome(False, found[0])
    if found is None:
        return Outcome(True, create_subscriptions(ctx, [person.id], series)[0])
    sub_id = found[0]
    ctx.s.execute(_REACTIVATE, {"sub": sub_id, "now": ctx.now, "channel": ctx.channel})
    _refresh(ctx, sub_id)
    audit.record(
        ctx,
        "subscription.reactivated",
        series_id=series.id,
        subject=("subscription", sub_id),
        person_id=person.id,
    )
    return Outcome(True, sub_id)


def create_subscriptions(
    ctx: Ctx, person_ids: Sequence[int], series: Series, *, channel: str | None = None
) -> list[int]:
    """New active subscriptions to `series` for people who have none, consented now through `channel`
    (default: the actor's), inserted together and audited with one event each; their ids.

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
    made = ctx.s.execute(_INSERT, rows).all()
    # One audit event per subscription, all by the same actor, inserted in one statement.
    actor = audit.actor_fields(ctx) | {"channel": channel}
    audit.record_rows(
        ctx,
        [
            actor | audit.row(CREATED, series.id, ("subscription", sub_id), {"person_id": person_id})
            for sub_id, person_id in made
        ],
    )
    return [sub_id for sub_id, _ in made]


def _end_audited(dialect: str) -> Any:
    """`_END` and its audit row in one statement (PostgreSQL: an UPDATE in a CTE)."""
    ended = _END.cte("ended")
    row = select(
        bindparam("now", type_=_TABLE.c.unsubscribed_at.type),
        bindparam("channel", type_=String()),
        bindparam("actor", type_=Integer()),
        bindparam("label", type_=String()),
        literal(ENDED, String()),
        bindparam("series", type_=Integer()),
        literal("subscription", String()),
        ended.c.id,
        bindparam("details", type_=_AUDIT.c.details.type),
    )
    columns = ["at", "channel", "actor_person_id", "actor_label", "action", "series_id", "subject_type"]
    audited = insert(_AUDIT).from_select([*columns, "subject_id", "details"], row)
    return select(ended.c.id).add_cte(audited.cte("audited"))


_END_AUDITED = ByDialect(_end_audited)


def unsubscribe_person(ctx: Ctx, person: Person, series: Series) -> Outcome:
    """Deactivate, keeping the record of when and how; unchanged when not subscribed."""
    ending = {"person": person.id, "series": series.id, "now": ctx.now, "channel": ctx.channel}
    dialect = ctx.s.get_bind().dialect.name
    if dialect == "postgresql":  # one round trip: the audit row written by the same statement
        actor = audit.actor_fields(ctx)
        ended = ctx.s.scalar(
            _END_AUDITED[dialect],
            ending
            | {
                "actor": actor["actor_person_id"],
                "label": actor["actor_label"],
                "details": {"person_id": person.id},
            },
        )
        if ended is not None:
            _refresh(ctx, ended)
        return Outcome(ended is not None, ended)
    ended = ctx.s.scalar(_END, ending)
    if ended is None:
        return Outcome(False, None)
    _refresh(ctx, ended)
    audit.record(ctx, ENDED, series_id=series.id, subject=("subscription", ended), person_id=person.id)
    return Outcome(True, ended)


def _refresh(ctx: Ctx, sub_id: int) -> None:
    """A subscription changed by a statement on the table is read again if the session holds it."""
    loaded = ctx.s.identity_map.get(identity_key(Subscription, sub_id))
    if loaded is not None:
        ctx.s.expire(loaded)


def subscribe(ctx: Ctx, series: Series) -> Outcome:
    # PostgreSQL: a newcomer's rows made in one statement, or a known person and their
    # subscription read by it (services.newcomers).
    joined = None if is_remembered(ctx.s, ctx.actor) else newcomers.subscribe(ctx, series)
    if joined is not None and joined.made:
        return Outcome(True, joined.subscription_id)
    known = find_person(ctx.s, ctx.actor) is not None
    person = get_or_create_person(ctx.s, ctx.actor, ctx.now)
    # Asking to subscribe (a confirmed web sign-up included) is the person vouching for their
    # address again: mail suspended after bounces resumes.
    bounces.lift_suspension(ctx, person)
    if not known:  # made just now: there is no subscription to look for
        return Outcome(True, create_subscriptions(ctx, [person.id], series)[0])
    if joined is not None:
        found = (joined.subscription_id, joined.active) if joined.subscription_id is not None else None
        return _activate(ctx, person, series, found)
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
        return Outcome(False, sub.id)
    sub.direct_messages = enabled
    audit.record(
        ctx,
        "subscription.direct_messages",
        series_id=series.id,
        subject=("subscription", sub.id),
        enabled=enabled,
    )
    return Outcome(True, sub.id)


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
