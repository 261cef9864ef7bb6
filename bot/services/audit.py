"""The audit log: one row per state change, written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from bot.commands import Actor
from bot.models import AuditEvent, Person
from bot.services.context import Ctx
from bot.services.people import find_person

_INSERT = insert(cast(Table, AuditEvent.__table__))


def record(
    ctx: Ctx,
    action: str,
    *,
    series_id: int | None = None,
    subject: tuple[str, int] | None = None,
    person: Person | None = None,
    via: str | None = None,
    **details: Any,
) -> None:
    """Record `action` by the context's actor (through the actor's channel unless `via` names
    another). `details` must hold ids and values, not personal data. One INSERT at once, not an ORM
    object for the session's flush: the unit of work costs a command more than the statement."""
    ctx.s.execute(_INSERT, actor_fields(ctx, person) | row(action, series_id, subject, details, via))


def actor_fields(ctx: Ctx, person: Person | None = None) -> dict[str, Any]:
    """Who acts, as an audit row names them: `person`, else the context's actor's person, else its
    label (the CLI's operator, the scheduler)."""
    actor_person = person if person is not None else find_person(ctx.s, ctx.actor)
    return {
        "at": ctx.now,
        "channel": ctx.channel,
        "actor_person_id": actor_person.id if actor_person is not None else None,
        "actor_label": None if actor_person is not None else ctx.actor.label,
    }


def row(
    action: str,
    series_id: int | None,
    subject: tuple[str, int] | None,
    details: dict[str, Any],
    via: str | None = None,
) -> dict[str, Any]:
    """What an audit row says was done (the rest of `actor_fields`' row)."""
    done = {
        "action": action,
        "series_id": series_id,
        "subject_type": subject[0] if subject else None,
        "subject_id": subject[1] if subject else None,
        "details": details,
    }
    return done if via is None else {**done, "channel": via}


def record_rows(ctx: Ctx, rows: list[dict[str, Any]]) -> None:
    """Several audit rows (each `actor_fields(...) | row(...)`), in one statement."""
    if rows:
        ctx.s.execute(_INSERT, rows)


@dataclass(frozen=True)
class Entry:
    """One audit row as an organiser reads it: who is named by address, or by label (the CLI's
    operator, the scheduler)."""

    at: datetime
    action: str
    channel: str
    actor: str | None
    subject: str | None


def series_log(ctx: Ctx, series_id: int, *, limit: int, offset: int = 0) -> list[Entry]:
    """A series' audit rows, newest first, `limit` from `offset` (the caller checks who may read it)."""
    rows = ctx.s.execute(
        select(AuditEvent, Person.email)
        .outerjoin(Person, Person.id == AuditEvent.actor_person_id)
        .where(AuditEvent.series_id == series_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        Entry(
            event.at,
            event.action,
            event.channel,
            email or event.actor_label,
            f"{event.subject_type} {event.subject_id}" if event.subject_type else None,
        )
        for event, email in rows
    ]


@dataclass(frozen=True)
class SystemEntry:
    """One audit row of `record_all_for_system`: when, what, which series and subject, details."""

    at: datetime
    action: str
    series_id: int | None
    subject: tuple[str, int]
    details: dict[str, Any]


def record_for_system(
    s: Session,
    actor: Actor,
    at: datetime,
    action: str,
    *,
    series_id: int | None,
    subject: tuple[str, int],
    **details: Any,
) -> None:
    """`record` for an actor that is no person (the delivery engine), as one INSERT: no ORM object,
    no person lookup. For paths that write one row per message sent."""
    s.execute(
        _INSERT,
        {
            "at": at,
            "channel": actor.platform,
            "actor_person_id": None,
            "actor_label": actor.label,
            "action": action,
            "series_id": series_id,
            "subject_type": subject[0],
            "subject_id": subject[1],
            "details": details,
        },
    )


def record_all_for_system(s: Session, actor: Actor, entries: Sequence[SystemEntry]) -> None:
    """`record_for_system` for many rows at once, as one INSERT (a worker recording what it sent)."""
    if not entries:
        return
    s.execute(
        _INSERT,
        [
            {
                "at": e.at,
                "channel": actor.platform,
                "actor_person_id": None,
                "actor_label": actor.label,
                "action": e.action,
                "series_id": e.series_id,
                "subject_type": e.subject[0],
                "subject_id": e.subject[1],
                "details": e.details,
            }
            for e in entries
        ],
    )
