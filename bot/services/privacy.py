"""What the bot holds about a person, and erasing it (GDPR art. 15 and 17)."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from bot.models import AuditEvent, Organiser, Person
from bot.services import audit
from bot.services.context import Ctx
from bot.services.people import email_hash, find_person, forget_people
from bot.services.subscriptions import subscriptions_of


def audit_count(ctx: Ctx, person: Person) -> int:
    return (
        ctx.s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.actor_person_id == person.id)
        )
        or 0
    )


def erase(ctx: Ctx) -> bool:
    """Erase the actor's personal data. What proves an unsubscribe stays: the subscription rows
    (series, dates, channels) and a keyed hash of the address. False when nothing was stored."""
    person = find_person(ctx.s, ctx.actor)
    if person is None:
        return False
    for sub in subscriptions_of(ctx, person):
        if sub.active:
            sub.active, sub.unsubscribed_at, sub.unsubscribe_channel = False, ctx.now, ctx.channel
    ctx.s.execute(delete(Organiser).where(Organiser.person_id == person.id))
    if person.email:
        person.email_hash = email_hash(ctx.config.secret_key, person.email)
    person.email = person.name = person.language = None
    person.identities.clear()
    person.erased_at = ctx.now
    ctx.s.flush()
    forget_people(ctx.s)
    audit.record(ctx, "person.erased", subject=("person", person.id), person=person)
    return True
