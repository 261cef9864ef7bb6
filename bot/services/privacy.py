"""What the bot holds about a person, and erasing it (GDPR art. 15 and 17).

Erasure finds every copy: the person's row and identities, their organiser rights, the outbox rows
that carried their address or platform id (and those ids in the rows' audit entries), the send
pace kept per direct-message conversation, and whatever a channel keeps of its own (each channel
package's ERASE, given to the dispatcher by the composition root: the web's pending sign-ups).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from bot.delivery import kinds
from bot.models import AuditEvent, Delivery, Fanout, MailBounce, Organiser, PacingSlot, Person
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


ERASED = "(erased)"


@dataclass(frozen=True)
class Traces:
    """What identifies an erased person, read before it is cleared: for the channels' own tables."""

    person_id: int
    email: str | None
    identities: tuple[tuple[str, str], ...]  # (platform, external id)


# A channel's part of an erasure, run in the erasure's transaction.
Eraser = Callable[[Session, Traces], None]


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
    traces = Traces(person.id, person.email, tuple((i.platform, i.external_id) for i in person.identities))
    _erase_outbox(ctx.s, traces)
    _erase_bounces(ctx.s, traces)
    for eraser in ctx.erasers:
        eraser(ctx.s, traces)
    if person.email:
        person.email_hash = email_hash(ctx.config.secret_key, person.email)
    person.email = person.name = person.language = None
    person.identities.clear()
    person.erased_at = ctx.now
    ctx.s.flush()
    forget_people(ctx.s)
    audit.record(ctx, "person.erased", subject=("person", person.id), person=person)
    return True


def _erase_bounces(s: Session, traces: Traces) -> None:
    """The person's bounces (they name the address) and the organisers' notices that named them."""
    theirs: ColumnElement[bool] = MailBounce.person_id == traces.person_id
    if traces.email:
        theirs = or_(theirs, MailBounce.address == traces.email.lower())
    s.execute(delete(MailBounce).where(theirs))
    notices = s.scalars(select(Fanout).where(Fanout.kind == kinds.MAIL_SUSPENDED))
    for notice in notices:
        if notice.payload.get("person_id") == traces.person_id:
            s.delete(notice)


def _erase_outbox(s: Session, traces: Traces) -> None:
    """The person's outbox rows (their key, target and reference hold the address or platform id),
    those ids in the rows' audit entries, and the pace kept for their direct-message conversations.
    A row still pending would be skipped anyway: the person no longer subscribes."""
    theirs: ColumnElement[bool] = Delivery.person_id == traces.person_id
    if traces.email:  # also mails to the address before it was a person's (a web form's link)
        theirs = or_(theirs, Delivery.target == traces.email)
    ids = list(s.scalars(select(Delivery.id).where(theirs)))
    if ids:
        entries = s.scalars(
            select(AuditEvent).where(AuditEvent.subject_type == "delivery", AuditEvent.subject_id.in_(ids))
        )
        for entry in entries:
            if entry.details and "target" in entry.details:
                entry.details = {**entry.details, "target": ERASED}
        s.execute(delete(Delivery).where(Delivery.id.in_(ids)))
    paces = [f"{platform}:{external_id}" for platform, external_id in traces.identities]
    if paces:
        s.execute(delete(PacingSlot).where(PacingSlot.key.in_(paces)))
