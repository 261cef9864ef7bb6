"""The numbers of one session, for its organisers: how many the invitation was for, how many each
channel reached with each message, how many left the series since, and how many took part.

One plain, detached dataclass (`SessionNumbers`), so the chat reply, `sessions show` and the web
dashboard all show the same figures from one reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from bot.delivery import kinds
from bot.models import Delivery, DeliveryState, Fanout, FanoutState, SessionAttendance, Subscription
from bot.models import Session as SessionRow
from bot.services.context import Ctx
from bot.services.organisers import require_organiser
from bot.services.sessions import get_session

# The order messages are shown in: as a session lives them.
KIND_ORDER = (kinds.INVITATION, kinds.CHANGE, kinds.REMINDER, kinds.CANCELLATION, kinds.FOLLOWUP)


@dataclass(frozen=True)
class ChannelReach:
    """One message kind through one channel: people it reached (`sent`), posts in a shared channel
    (`posts`: one reaches everyone there), and those it did not reach (yet)."""

    channel: str
    kind: str
    sent: int
    posts: int
    failed: int
    skipped: int
    pending: int


@dataclass(frozen=True)
class SessionNumbers:
    session_id: int
    # Subscribers the invitation was for (at its time, and those who joined before the start);
    # None until it went out.
    invited: int | None
    invited_at: datetime | None
    # People reached by at least one message about the session, through any channel.
    reached: int
    channels: tuple[ChannelReach, ...]
    # Subscribers who left the series since the invitation went out (0 before it did).
    unsubscribed_since: int
    # Distinct attendees from the platform's attendance reports; None when not known.
    attended: int | None
    attendance_source: str | None
    attendance_final: bool


@dataclass(frozen=True)
class OutsideReach:
    """What a channel delivered for a session outside the outbox (Exchange sends the Teams meeting
    itself as the invitation): the counts, and the people it reached."""

    reach: ChannelReach
    people: frozenset[int]


def with_outside(
    numbers: SessionNumbers, outside: Sequence[OutsideReach], reached: frozenset[int]
) -> SessionNumbers:
    """`numbers` with what the channels delivered outside the outbox added: counts of the same
    channel and kind summed, `reached` (the people the outbox reached) joined with theirs."""
    if not outside:
        return numbers
    tallies = {(c.channel, c.kind): asdict(c) for c in numbers.channels}
    for item in outside:
        r = item.reach
        tally = tallies.setdefault(
            (r.channel, r.kind), {**asdict(r), "sent": 0, "posts": 0, "failed": 0, "skipped": 0, "pending": 0}
        )
        for name in ("sent", "posts", "failed", "skipped", "pending"):
            tally[name] += getattr(r, name)
    people = reached.union(*(item.people for item in outside))
    return replace(
        numbers, reached=len(people), channels=_ordered(ChannelReach(**t) for t in tallies.values())
    )


def numbers_of(
    ctx: Ctx, session_id: int, outside: Callable[[Session, int], Sequence[OutsideReach]] | None = None
) -> SessionNumbers:
    """The numbers of session `session_id`, for an organiser of its series (else `not_organiser`)."""
    session = get_session(ctx, session_id)
    require_organiser(ctx, session.series)
    found = session_numbers(ctx.s, session)
    if outside is None:
        return found
    return with_outside(found, outside(ctx.s, session_id), _reached_people(ctx.s, session_id))


def session_numbers(s: Session, session: SessionRow) -> SessionNumbers:
    invited_at = s.scalar(
        select(Fanout.created_at).where(
            Fanout.session_id == session.id,
            Fanout.kind == kinds.INVITATION,
            Fanout.state == FanoutState.EXPANDED.value,
        )
    )
    attendance = s.get(SessionAttendance, session.id)
    return SessionNumbers(
        session_id=session.id,
        invited=_invited(s, session, invited_at) if invited_at is not None else None,
        invited_at=invited_at,
        reached=_reached(s, session.id),
        channels=_channels(s, session.id),
        unsubscribed_since=_left_since(s, session, invited_at) if invited_at is not None else 0,
        attended=attendance.attended if attendance else None,
        attendance_source=attendance.source if attendance else None,
        attendance_final=bool(attendance and attendance.final),
    )


def _invited(s: Session, session: SessionRow, at: datetime) -> int:
    """Subscribers when the invitation went out (still subscribed, or left after it), and those who
    subscribed after it but before the session began (they got it as they joined)."""
    series = Subscription.series_id == session.series_id
    then = and_(
        Subscription.consented_at <= at,
        or_(Subscription.active.is_(True), Subscription.unsubscribed_at > at),
    )
    joined = and_(
        Subscription.consented_at > at,
        Subscription.consented_at < session.start_at,
        or_(Subscription.active.is_(True), Subscription.unsubscribed_at > Subscription.consented_at),
    )
    return s.scalar(select(func.count()).select_from(Subscription).where(series, or_(then, joined))) or 0


def _left_since(s: Session, session: SessionRow, at: datetime) -> int:
    return (
        s.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(
                Subscription.series_id == session.series_id,
                Subscription.active.is_(False),
                Subscription.unsubscribed_at > at,
            )
        )
        or 0
    )


def _reached_where(session_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Fanout.session_id == session_id,
        Fanout.kind.in_(kinds.PUBLIC),
        Delivery.state == DeliveryState.SENT.value,
        Delivery.person_id.is_not(None),
    )


def _reached(s: Session, session_id: int) -> int:
    query = select(func.count(distinct(Delivery.person_id))).join(Fanout, Fanout.id == Delivery.fanout_id)
    return s.scalar(query.where(*_reached_where(session_id))) or 0


def _reached_people(s: Session, session_id: int) -> frozenset[int]:
    query = select(Delivery.person_id).distinct().join(Fanout, Fanout.id == Delivery.fanout_id)
    return frozenset(person for person in s.scalars(query.where(*_reached_where(session_id))) if person)


def _channels(s: Session, session_id: int) -> tuple[ChannelReach, ...]:
    rows = s.execute(
        select(
            Delivery.channel,
            Fanout.kind,
            Delivery.state,
            Delivery.person_id.is_(None).label("post"),
            func.count(),
        )
        .join(Fanout, Fanout.id == Delivery.fanout_id)
        .where(Fanout.session_id == session_id, Fanout.kind.in_(kinds.PUBLIC))
        .group_by(Delivery.channel, Fanout.kind, Delivery.state, Delivery.person_id.is_(None))
    )
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for channel, kind, state, post, n in rows:
        tally = counts.setdefault(
            (channel, kind), {"sent": 0, "posts": 0, "failed": 0, "skipped": 0, "pending": 0}
        )
        if state == DeliveryState.SENT.value:
            tally["posts" if post else "sent"] += n
        elif state in (DeliveryState.FAILED.value, DeliveryState.SKIPPED.value):
            tally[state] += n
        else:
            tally["pending"] += n
    return _ordered(ChannelReach(channel, kind, **tally) for (channel, kind), tally in counts.items())


def _ordered(reach: Iterable[ChannelReach]) -> tuple[ChannelReach, ...]:
    """By message, in the order a session lives them, then by channel."""
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return tuple(sorted(reach, key=lambda c: (order.get(c.kind, len(order)), c.channel)))
