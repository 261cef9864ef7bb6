"""How many took part in a session, as a platform's attendance reports say: written by the channel
that reads them (Teams), read with the session's numbers (bot/services/numbers.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.commands import Actor
from bot.models import Session as SessionRow
from bot.models import SessionAttendance
from bot.services import audit


def record_attendance(
    s: Session, actor: Actor, session_id: int, attended: int, *, source: str, final: bool, now: datetime
) -> bool:
    """Store the count of distinct attendees of `session_id` (audited when it changes); False if the
    stored count and state were already these."""
    row = s.get(SessionAttendance, session_id)
    if row is not None and (row.attended, row.source, row.final) == (attended, source, final):
        return False
    if row is None:
        row = SessionAttendance(session_id=session_id, attended=attended, source=source, final=final)
        s.add(row)
    row.attended, row.source, row.final, row.updated_at = attended, source, final, now
    series_id = s.scalar(select(SessionRow.series_id).where(SessionRow.id == session_id))
    audit.record_for_system(
        s,
        actor,
        now,
        "session.attendance_recorded",
        series_id=series_id,
        subject=("session", session_id),
        attended=attended,
        source=source,
        final=final,
    )
    return True
