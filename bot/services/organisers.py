"""The organiser role per series: who may plan sessions, add slides and count subscribers."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import Organiser, Person, Series
from bot.services import audit
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.people import find_person, resolve_identity


def is_organiser(ctx: Ctx, series: Series) -> bool:
    if ctx.actor.is_operator:
        return True
    person = find_person(ctx.s, ctx.actor)
    if person is None:
        return False
    return (
        ctx.s.scalar(
            select(Organiser.id).where(Organiser.person_id == person.id, Organiser.series_id == series.id)
        )
        is not None
    )


def organises_any(ctx: Ctx) -> bool:
    """Whether the actor organises some series (the operator organises them all)."""
    if ctx.actor.is_operator:
        return True
    person = find_person(ctx.s, ctx.actor)
    if person is None:
        return False
    return ctx.s.scalar(select(Organiser.id).where(Organiser.person_id == person.id).limit(1)) is not None


def organised_series(ctx: Ctx) -> list[Series]:
    """The series the actor organises, by name (the operator: every series)."""
    query = select(Series).order_by(Series.name)
    if not ctx.actor.is_operator:
        person = find_person(ctx.s, ctx.actor)
        if person is None:
            return []
        query = query.join(Organiser, Organiser.series_id == Series.id).where(
            Organiser.person_id == person.id
        )
    return list(ctx.s.scalars(query))


def organisers_of(ctx: Ctx, series: Series) -> list[Person]:
    """Who organises `series`, in the order they were made organisers."""
    require_organiser(ctx, series)
    query = (
        select(Person)
        .join(Organiser, Organiser.person_id == Person.id)
        .where(Organiser.series_id == series.id)
        .order_by(Organiser.granted_at, Organiser.id)
    )
    return list(ctx.s.scalars(query))


def require_organiser(ctx: Ctx, series: Series) -> None:
    if not is_organiser(ctx, series):
        raise UserError("not_organiser", series=series.name)


def grant(ctx: Ctx, series: Series, identity: str) -> bool:
    """Make `identity` an organiser of `series`; False if they already were."""
    require_organiser(ctx, series)
    person = resolve_identity(ctx.s, identity, ctx.now, create=True)
    assert person is not None
    existing = ctx.s.scalar(
        select(Organiser).where(Organiser.person_id == person.id, Organiser.series_id == series.id)
    )
    if existing is not None:
        return False
    row = Organiser(person_id=person.id, series_id=series.id, granted_at=ctx.now)
    ctx.s.add(row)
    ctx.s.flush()
    audit.record(ctx, "organiser.granted", series_id=series.id, subject=("person", person.id))
    return True


def revoke(ctx: Ctx, series: Series, identity: str) -> bool:
    """Take the organiser role away; False if they did not have it."""
    require_organiser(ctx, series)
    person = resolve_identity(ctx.s, identity, ctx.now, create=False)
    if person is None:
        return False
    existing = ctx.s.scalar(
        select(Organiser).where(Organiser.person_id == person.id, Organiser.series_id == series.id)
    )
    if existing is None:
        return False
    ctx.s.delete(existing)
    audit.record(ctx, "organiser.revoked", series_id=series.id, subject=("person", person.id))
    return True
