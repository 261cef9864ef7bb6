"""The schedule ahead: every message still to go out, when, through which channels, to how many.

Read from the planner's own code (`snapshots`, `Snapshot.plans`, `skip_reason`, `expand_targets`),
so what is shown is what the planner will do: the same due times (days on the series' wall clock,
across daylight-saving changes), the same skips, the same audience. Messages already in the outbox
and not yet sent are listed from their rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.delivery import kinds
from bot.delivery.fanouts import Snapshot, snapshots
from bot.delivery.planner import Planner, skip_reason
from bot.delivery.recipients import subscribers
from bot.delivery.schedule import FOLLOWUP_HORIZON, Planned
from bot.models import Delivery, DeliveryState, Fanout, Series
from bot.models import Session as SessionRow

A = TypeVar("A")
WAITING = (DeliveryState.PENDING.value, DeliveryState.CLAIMED.value, DeliveryState.SENDING.value)


@dataclass(frozen=True)
class Upcoming:
    """One message still to go out: to `channels` (channel → how many sends), due at `due_at`."""

    session_id: int
    kind: str
    offset: str | None
    due_at: datetime
    timezone: str
    channels: dict[str, int]

    @property
    def recipients(self) -> int:
        return sum(self.channels.values())

    def as_json(self) -> dict[str, object]:
        return {
            "session": self.session_id,
            "kind": self.kind,
            "offset": self.offset,
            "due_utc": self.due_at.isoformat(),
            "due_local": self.due_at.astimezone(ZoneInfo(self.timezone)).isoformat(),
            "channels": sorted(self.channels),
            "recipients": self.recipients,
        }


def schedule_ahead(
    s: Session, planner: Planner, now: datetime, session_id: int | None = None
) -> list[Upcoming]:
    """What is still to go out, by due time: planned messages the planner has yet to expand (a due
    one that it would skip as missed is left out), and rows of expanded ones still waiting."""
    where = [SessionRow.start_at >= now - FOLLOWUP_HORIZON]
    if session_id is not None:
        where.append(SessionRow.id == session_id)
    found = [*_waiting(s, now, session_id)]
    for item in plans_ahead(s, snapshots(s, *where), now, subscribers):
        series = item.snap.session.series
        expansion = planner.expand_targets(item.plan, series, item.audience)
        channels = {channel: len(targets) for channel, targets in expansion.targets.items() if targets}
        offset = str(item.plan.offset) if item.plan.offset else None
        found.append(
            Upcoming(item.snap.session.id, item.plan.kind, offset, item.due_at, series.timezone, channels)
        )
    return sorted(found, key=lambda u: (u.due_at, u.session_id, u.kind))


@dataclass(frozen=True)
class Ahead(Generic[A]):
    """One message the planner has yet to expand, with its series' subscribers (as read)."""

    snap: Snapshot
    plan: Planned
    audience: A
    due_at: datetime  # the plan's due time, or now for one already due (the planner's next pass)


def plans_ahead(
    s: Session, found: Iterable[Snapshot], now: datetime, read: Callable[[Session, Series], A]
) -> Iterator[Ahead[A]]:
    """Every message of these sessions still to expand (`to_expand`), in order; each series'
    subscribers are read once (`read`: as a list, or counted), and only for a series with
    something ahead."""
    audiences: dict[int, A] = {}
    for snap in found:
        plans = to_expand(snap, now)
        series = snap.session.series
        if plans and series.id not in audiences:
            audiences[series.id] = read(s, series)
        for plan in plans:
            yield Ahead(snap, plan, audiences[series.id], max(plan.due_at, now))


def to_expand(snap: Snapshot, now: datetime) -> list[Planned]:
    """The session's messages the planner has yet to expand and will not skip."""
    plans = snap.plans()
    pending = [plan for plan in plans if plan.key not in snap.facts.existing]
    invited_when = snap.facts.invitation.at if snap.facts.invitation else None
    invitation = next((p for p in pending if p.kind == kinds.INVITATION), None)
    if invited_when is None and invitation is not None and invitation.due_at <= now:
        invited_when = now  # the next pass sends it first, then weighs the reminders against it
    return [plan for plan in pending if skip_reason(snap, plans, plan, invited_when, now) is None]


def _waiting(s: Session, now: datetime, session_id: int | None) -> list[Upcoming]:
    """Expanded messages with sends still waiting in the outbox, one entry per fan-out."""
    query = (
        select(Delivery.fanout_id, Delivery.channel, func.count(), func.min(Delivery.due_at))
        .join(Fanout, Fanout.id == Delivery.fanout_id)
        .where(Delivery.state.in_(WAITING), Fanout.kind.in_(kinds.PUBLIC), Fanout.session_id.is_not(None))
        .group_by(Delivery.fanout_id, Delivery.channel)
    )
    if session_id is not None:
        query = query.where(Fanout.session_id == session_id)
    channels: dict[int, dict[str, int]] = {}
    due: dict[int, datetime] = {}
    for fanout_id, channel, count, first in s.execute(query):
        channels.setdefault(fanout_id, {})[channel] = count
        due[fanout_id] = min(first, due.get(fanout_id, first))
    if not channels:
        return []
    rows = s.execute(
        select(Fanout, Series).join(Series, Series.id == Fanout.series_id).where(Fanout.id.in_(channels))
    )
    return [
        Upcoming(
            fanout.session_id or 0,
            fanout.kind,
            _offset_of(fanout, series),
            max(due[fanout.id], now),
            series.timezone,
            channels[fanout.id],
        )
        for fanout, series in rows
    ]


def _offset_of(fanout: Fanout, series: Series) -> str | None:
    """The offset an expanded message was planned with, as the series has it (a manual send: none)."""
    offset = fanout.payload.get("offset")
    if offset == "manual":
        return None
    if fanout.kind == kinds.REMINDER:
        return offset if isinstance(offset, str) else None
    if fanout.kind == kinds.INVITATION:
        return series.invitation_offset
    if fanout.kind == kinds.FOLLOWUP and offset is None:
        return series.followup_delay
    return None
