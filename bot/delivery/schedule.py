"""When each message of a session is due: pure functions of the session, its series and the clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.delivery import kinds
from bot.delivery.durations import Offset, parse_offset, parse_offsets
from bot.models import Series, Session, SessionStatus

# Slides are often added one by one: the follow-up waits this long after the last one.
FOLLOWUP_GRACE = timedelta(minutes=15)
# Follow-ups for sessions older than this are not sent any more (e.g. after a long outage).
FOLLOWUP_HORIZON = timedelta(days=30)


@dataclass(frozen=True)
class Planned:
    key: str
    kind: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    offset: Offset | None = None


def invitation_key(session_id: int) -> str:
    return f"s{session_id}:invitation"


def planned_for(
    session: Session,
    series: Series,
    invited_start: str | None,
    last_link_at: datetime | None,
    invited_join_url: str | None = None,
) -> list[Planned]:
    """Every message this session calls for now. `invited_start` is the start the invitation
    announced (None if no invitation went out), `invited_join_url` the join link it (or the latest
    change) announced, if any; `last_link_at` when the latest slide link was added."""
    if session.status == SessionStatus.DRAFT.value:
        return []  # nothing until an organiser gives it a title
    if session.status == SessionStatus.CANCELLED.value:
        if invited_start is None:
            return []
        return [Planned(f"s{session.id}:cancellation", kinds.CANCELLATION, session.updated_at)]
    start, tz = session.start_at, series.timezone
    start_iso = start.isoformat()
    invitation = parse_offset(series.invitation_offset)
    plans = [
        Planned(
            invitation_key(session.id),
            kinds.INVITATION,
            invitation.before(start, tz),
            _announced(start_iso, session.join_url),
            invitation,
        )
    ]
    offsets = parse_offsets(series.reminder_offsets)  # largest first: the last one is the last reminder
    for offset in offsets:
        payload: dict[str, object] = {"start": start_iso, "offset": str(offset)}
        if offset == offsets[-1]:
            payload["last"] = True
        plans.append(
            Planned(
                f"s{session.id}:reminder:{offset}:{start_iso}",
                kinds.REMINDER,
                offset.before(start, tz),
                payload,
                offset,
            )
        )
    # A join link that replaced the one announced (a new meeting) is a change, as a new start is.
    relinked = None not in (invited_join_url, session.join_url) and invited_join_url != session.join_url
    if invited_start is not None and (invited_start != start_iso or relinked):
        key = f"s{session.id}:change:{start_iso}"
        payload = {**_announced(start_iso, session.join_url), "previous_start": invited_start}
        if relinked and session.join_url:
            key += f":link:{hashlib.sha256(session.join_url.encode()).hexdigest()[:12]}"
            payload["previous_join_url"] = invited_join_url
        plans.append(Planned(key, kinds.CHANGE, session.updated_at, payload))
    if last_link_at is not None:
        delay = parse_offset(series.followup_delay)
        due = max(delay.after(session.end_at, tz), last_link_at + FOLLOWUP_GRACE)
        plans.append(Planned(f"s{session.id}:followup", kinds.FOLLOWUP, due, offset=delay))
    return plans


def _announced(start_iso: str, join_url: str | None) -> dict[str, Any]:
    """What a message about the session's time and place tells: later ones compare with it."""
    return {"start": start_iso, "join_url": join_url} if join_url else {"start": start_iso}


def miss_reason(plan: Planned, session: Session, plans: list[Planned], now: datetime) -> str | None:
    """Why a due message is no longer worth sending (it was missed), or None to send it."""
    if plan.kind in kinds.BEFORE_START and session.start_at <= now:
        return "missed: the session has started"
    if plan.kind == kinds.FOLLOWUP and session.end_at + FOLLOWUP_HORIZON < now:
        return "missed: the session is too long ago"
    if plan.kind == kinds.REMINDER and plan.offset is not None:
        later = [
            p
            for p in plans
            if p.kind == kinds.REMINDER and p.offset and p.offset.seconds < plan.offset.seconds
        ]
        if any(p.due_at <= now for p in later):
            return "missed: a later reminder is due as well"
    return None


def too_recent(plan: Planned, subscribed_at: datetime | None) -> bool:
    """No reminder to someone who subscribed less than its offset before it (they just got the
    invitation): no 1-day reminder to someone who joined an hour before it."""
    after = recent_after(plan)
    return after is not None and subscribed_at is not None and subscribed_at > after


def recent_after(plan: Planned) -> datetime | None:
    """Who subscribed after this moment is `too_recent` for `plan`; None: nobody is."""
    if plan.kind != kinds.REMINDER or plan.offset is None:
        return None
    return plan.due_at - timedelta(seconds=plan.offset.seconds)
