"""What a session's meeting should look like now: a pure reading of the database, and the split of
its attendees over events of at most MAIL_MAX_RECIPIENTS each.

Why several events rather than a mail fallback over 500: every subscriber then gets the same real
Exchange invitation, kept in sync the same way. Part 0 owns the Teams meeting; later parts are plain
events whose location and body carry part 0's join link, so everyone joins the one meeting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from bot.delivery import kinds
from bot.delivery.channels import OutgoingMessage
from bot.delivery.recipients import subscribers
from bot.delivery.schedule import invitation_key
from bot.models import Fanout, FanoutState, SessionStatus
from bot.models import Session as SessionRow
from bot.views import SessionView
from handlers.microsoft365.calendar import Attendee
from handlers.microsoft365.models import GraphEvent

HORIZON = timedelta(days=62)
# Makes the session's meeting if it has none yet; returns its join URL (see CalendarSync.ensure_meeting).
EnsureMeeting = Callable[[int], "str | None"]


@dataclass(frozen=True)
class Part:
    """A detached copy of one `graph_event` row."""

    id: int
    part: int
    transaction_id: str
    event_id: str | None
    online: bool
    join_url: str | None
    attendee_ids: tuple[int, ...]
    invited: bool
    synced_sequence: int
    cancelled: bool
    addresses: frozenset[str] | None = None  # those we put on the event (None: not recorded)
    body_digest: str | None = None

    @classmethod
    def of(cls, row: GraphEvent) -> Part:
        return cls(
            row.id,
            row.part,
            row.transaction_id,
            row.event_id,
            row.online_meeting,
            row.join_url,
            tuple(row.attendee_ids or ()),
            row.invited,
            row.synced_sequence,
            row.cancelled,
            None if row.attendee_addresses is None else frozenset(row.attendee_addresses),
            row.body_digest,
        )


@dataclass(frozen=True)
class Snapshot:
    session: SessionView
    # The invitation is due (its fan-out was expanded) and the session has not started: invite people.
    inviting: bool
    people: Mapping[int, Attendee]  # who should be on the meeting, by person id, in id order
    parts: Mapping[int, Part]


def candidates(s: Session, now: datetime) -> list[int]:
    """Upcoming scheduled sessions, and cancelled ones whose events are not cancelled yet."""
    upcoming = select(SessionRow.id).where(
        SessionRow.status == SessionStatus.SCHEDULED.value,
        SessionRow.start_at > now,
        SessionRow.start_at <= now + HORIZON,
    )
    to_cancel = (
        select(GraphEvent.session_id)
        .join(SessionRow, SessionRow.id == GraphEvent.session_id)
        .where(
            SessionRow.status == SessionStatus.CANCELLED.value,
            GraphEvent.cancelled.is_(False),
            GraphEvent.event_id.is_not(None),
        )
    )
    return sorted(set(s.scalars(union(upcoming, to_cancel))))


def snapshot(s: Session, session_id: int, now: datetime) -> Snapshot | None:
    session = s.get(SessionRow, session_id)
    if session is None:
        return None
    rows = s.scalars(select(GraphEvent).where(GraphEvent.session_id == session_id)).all()
    fanout_state = s.scalar(select(Fanout.state).where(Fanout.key == invitation_key(session_id)))
    inviting = (
        fanout_state == FanoutState.EXPANDED.value
        and session.status == SessionStatus.SCHEDULED.value
        and session.start_at > now
    )
    people: dict[int, Attendee] = {}
    if inviting:
        for r in subscribers(s, session.series):
            if r.email:
                people[r.person_id] = Attendee(r.email, r.name)
    return Snapshot(SessionView.of(session), inviting, people, {row.part: Part.of(row) for row in rows})


def assign(current: Mapping[int, Sequence[int]], wanted: Sequence[int], cap: int) -> dict[int, list[int]]:
    """Attendees per part: everyone stays where they are (no re-invitation), leavers drop out,
    newcomers fill the first part with room; a new part opens when all are full. Part 0 always exists."""
    wanted_set = set(wanted)
    result: dict[int, list[int]] = {0: []}
    overflow: list[int] = []
    for part, ids in sorted(current.items()):
        staying = [p for p in ids if p in wanted_set]
        result[part] = staying[:cap]
        overflow += staying[cap:]
    placed = {p for ids in result.values() for p in ids}
    for person in [*overflow, *(p for p in wanted if p not in placed and p not in overflow)]:
        part = 0
        while len(result.setdefault(part, [])) >= cap:
            part += 1
        result[part].append(person)
    return result


def with_join_link(message: OutgoingMessage, ensure: EnsureMeeting | None) -> OutgoingMessage:
    """Messages about a session carry its join link: when the meeting is not made yet (a session
    planned moments before its message is due), the calendar makes it first. Unchanged otherwise."""
    session = message.session
    if ensure is None or session is None or session.join_url or session.cancelled:
        return message
    if message.kind not in kinds.PUBLIC or message.kind == kinds.FOLLOWUP:
        return message
    join_url = ensure(session.id)
    if not join_url:
        return message
    return dataclasses.replace(message, session=dataclasses.replace(session, join_url=join_url))
