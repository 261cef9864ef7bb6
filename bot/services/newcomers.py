"""A subscribe on PostgreSQL in one statement: the actor's person found, or, for a newcomer, made with
their identity, subscription and audit row.

The burst after an announcement is newcomers (and people who click twice). Looking them up and
making their four rows is five round trips, and on PostgreSQL each one costs the worker more CPU
(the driver, the socket) than the SQL costs the server: written as data-modifying CTEs they are
one. For someone known, the same statement reads their person and subscription, and whether the
actor's identity is theirs already. SQLite has no INSERT in a CTE and keeps the statements of
services.people and services.subscriptions (in-process, they cost it less). What is written is the
same either way: the same rows, audited alike, in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Boolean, Integer, String, Table, bindparam, exists, func, literal, null, select, true
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from bot.db import ByDialect, dialect_insert
from bot.models import AuditEvent, Identity, Person, Series, Subscription
from bot.services.context import Ctx
from bot.services.people import FIRST, normalise_email, remember_person

CREATED = "subscription.created"  # as services.subscriptions audits a new subscription

_PERSON = cast(Table, Person.__table__)
_IDENTITY = cast(Table, Identity.__table__)
_SUBSCRIPTION = cast(Table, Subscription.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)


def _build(dialect: str) -> Any:
    insert = dialect_insert(dialect)
    now = bindparam("now", type_=_PERSON.c.created_at.type)
    channel = bindparam("channel", type_=String())
    series = bindparam("series", type_=Integer())
    # The actor's person: by identity, else by vouched-for address (services.people.find_person),
    # with their subscription to the series if they have one.
    found = (
        select(
            *_PERSON.c,
            _SUBSCRIPTION.c.id.label("subscription_id"),
            _SUBSCRIPTION.c.active.label("active"),
            (FIRST.c.rank == 0).label("linked"),
        )
        .join(FIRST, FIRST.c.id == _PERSON.c.id)
        .outerjoin(
            _SUBSCRIPTION, (_SUBSCRIPTION.c.person_id == _PERSON.c.id) & (_SUBSCRIPTION.c.series_id == series)
        )
        .cte("found")
    )
    # Nobody: a new person. A concurrent newcomer with the same address makes this one nothing
    # (ON CONFLICT): the caller then finds that person the usual way.
    made = (
        insert(_PERSON)
        .from_select(
            ["name", "email", "language", "created_at"],
            select(
                bindparam("name", type_=String()),
                bindparam("email", type_=String()),
                bindparam("language", type_=String()),
                now,
            ).where(~exists(select(found.c.id))),
        )
        .on_conflict_do_nothing()
        .returning(*_PERSON.c)
        .cte("made")
    )
    identity = insert(_IDENTITY).from_select(
        ["person_id", "platform", "external_id", "created_at", "active"],
        select(
            made.c.id,
            bindparam("platform", type_=String()),
            bindparam("external_id", type_=String()),
            now,
            true(),
        ),
    )
    subscription = (
        insert(_SUBSCRIPTION)
        .from_select(
            ["person_id", "series_id", "active", "source_channel", "consented_at", "direct_messages"],
            select(made.c.id, series, true(), channel, now, literal(False, Boolean())),
        )
        .returning(_SUBSCRIPTION.c.id, _SUBSCRIPTION.c.person_id)
        .cte("subscribed")
    )
    audit = insert(_AUDIT).from_select(
        [
            "at",
            "channel",
            "actor_person_id",
            "actor_label",
            "action",
            "series_id",
            "subject_type",
            "subject_id",
            "details",
        ],
        select(
            now,
            channel,
            subscription.c.person_id,
            null(),
            literal(CREATED, String()),
            series,
            literal("subscription", String()),
            subscription.c.id,
            func.json_build_object(literal("person_id", String()), subscription.c.person_id),
        ),
    )
    newcomer = select(
        *made.c,
        subscription.c.id.label("subscription_id"),
        true().label("active"),
        true().label("linked"),
        true().label("made"),
    ).join_from(made, subscription, subscription.c.person_id == made.c.id)
    known = select(*found.c, literal(False, Boolean()).label("made"))
    return newcomer.union_all(known).add_cte(identity.cte("identified"), audit.cte("audited"))


_STATEMENT = ByDialect(_build)


@dataclass(frozen=True)
class Joined:
    """What `subscribe` found or made: the actor's person (loaded in the session, and known to
    `find_person`), whether it was `made` just now with its subscription, and the subscription to
    the series (`subscription_id` None: none, whether active or not)."""

    person: Person
    made: bool
    subscription_id: int | None
    active: bool


def subscribe(ctx: Ctx, series: Series) -> Joined | None:
    """On PostgreSQL, one statement: a newcomer's person, identity, subscription and audit row made,
    or a known actor's person and subscription to `series` read. None on another backend, or when
    another transaction made a person with the actor's address at the same moment (look again)."""
    dialect = ctx.s.get_bind().dialect.name
    if dialect != "postgresql":
        return None
    actor = ctx.actor
    row = ctx.s.execute(
        _STATEMENT[dialect],
        {
            "platform": actor.platform,
            "external_id": actor.external_id,
            "email": normalise_email(actor.email) if actor.email else None,
            "name": actor.name[:200] if actor.name else None,
            "language": actor.language or None,
            "now": ctx.now,
            "channel": ctx.channel,
            "series": series.id,
        },
    ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    made, linked = values.pop("made"), values.pop("linked")
    subscription_id, active = values.pop("subscription_id"), values.pop("active")
    person = _loaded(ctx.s, values)
    remember_person(ctx.s, actor, person, made=made, linked=linked)
    return Joined(person, made, subscription_id, bool(active))


def _loaded(s: Session, values: dict[str, Any]) -> Person:
    """The person of a row the database returned, in the session as loaded (nothing read back)."""
    held: Person | None = s.identity_map.get(identity_key(Person, values["id"]))
    if held is not None:
        return held
    person = Person(**values)
    make_transient_to_detached(person)
    s.add(person)
    return person
