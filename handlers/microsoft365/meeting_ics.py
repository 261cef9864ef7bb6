"""Which `.ics` a mail about a session carries, so Outlook never shows the session twice.

Exchange's invitation carries the event's `iCalUId`; an `.ics` with another UID makes a second
calendar entry that never follows Exchange's updates. So:
- a person who is an attendee of the session's Exchange meeting already has it: no `.ics`;
- anyone else gets the `.ics` under the meeting's `iCalUId` (part 0, the Teams meeting), so the entry
  it makes is the one a later invitation updates; when that UID cannot be read, no `.ics`;
- a session without an Exchange event keeps the feed's UID (`session-<id>@<host>`).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.db import Database
from bot.mail_mime import IcsChoice
from handlers.microsoft365.calendar import CalendarApi
from handlers.microsoft365.errors import GraphError
from handlers.microsoft365.models import GraphEvent

log = logging.getLogger(__name__)


class MeetingIcs:
    def __init__(self, db: Database, api: CalendarApi) -> None:
        self.db, self.api = db, api

    def __call__(self, session_id: int, person_id: int) -> IcsChoice:
        with self.db.read() as s:
            rows = s.scalars(
                select(GraphEvent).where(
                    GraphEvent.session_id == session_id,
                    GraphEvent.event_id.is_not(None),
                    GraphEvent.cancelled.is_(False),
                )
            ).all()
            parts = [
                (r.id, r.part, r.event_id, r.ical_uid, r.invited, list(r.attendee_ids or ())) for r in rows
            ]
        if not parts:
            return IcsChoice()
        if any(invited and person_id in attendees for _, _, _, _, invited, attendees in parts):
            return IcsChoice(include=False)  # Exchange invited this person: Outlook has the meeting
        row_id, _, event_id, ical_uid, _, _ = min(parts, key=lambda p: p[1])
        if ical_uid is None and event_id is not None:
            ical_uid = self._fetch(row_id, event_id)
        return IcsChoice(uid=ical_uid) if ical_uid else IcsChoice(include=False)

    def _fetch(self, row_id: int, event_id: str) -> str | None:
        """Read an event's `iCalUId` from Graph once and keep it (events made before it was stored)."""
        try:
            found = self.api.ical_uid(event_id)
        except GraphError as exc:
            log.warning(
                "calendar: the meeting's iCalUId could not be read (%s): the mail goes without .ics", exc
            )
            return None
        if found:
            with self.db.transaction() as s:
                row = s.get(GraphEvent, row_id)
                if row is not None and row.event_id == event_id:
                    row.ical_uid = found
        return found
