"""How many took part in a session, from its Teams meeting's attendance reports (Graph v1.0).

Teams makes an attendance report some minutes after each time a meeting ends (a meeting started
twice has two). After a session this reads `GET /users/{organiser id}/onlineMeetings/{meeting id}/
attendanceReports` (404 until the first report exists) and each new report's `attendanceRecords`
(paged), and stores the number of distinct attendees over all reports with the session
(bot/services/attendance.py), where `antall 12` and `sessions show` find it. A report is read once:
the ids read are kept, and only a new report makes the count again. It looks again every
`EVERY` until `FINAL_AFTER` the end, then the count is final and no longer read.

It needs the application permission `OnlineMeetingArtifact.Read.All` and the Teams application
access policy granted for the organiser (as the meeting options do); without them Graph answers 403,
kept as the problem of that session's reading, and tried again at the next pass.

In the same looks it lists the meeting's `recordings` (`OnlineMeetingRecording.Read.All`). Graph
describes a recording by its times and `recordingContentUrl`, Graph's own address of the video that
takes the app's token: nothing a subscriber can open. So a new recording is not made a link; the
organisers are told once (per recording) that it is ready, to share it from Teams or OneDrive and
add the link with `type=opptak`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.commands import Actor
from bot.db import Database
from bot.delivery import kinds
from bot.models import Session as SessionRow
from bot.models import SessionAttendance, SessionStatus
from bot.services.attendance import record_attendance
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.errors import (
    GraphAuthError,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    LoginNeeded,
)
from handlers.microsoft365.meeting_options import MeetingOptionsApi
from handlers.microsoft365.models import GraphAttendance, GraphEvent

log = logging.getLogger(__name__)

ACTOR = Actor(platform="graph", external_id="attendance", is_operator=True)
PERMISSION = "OnlineMeetingArtifact.Read.All"
RECORDINGS = "OnlineMeetingRecording.Read.All"
SOURCE = "teams"
FIRST_LOOK = timedelta(minutes=10)  # Teams makes the report some minutes after the meeting ends
EVERY = timedelta(minutes=15)  # reports are looked for again this often until the count is final
FINAL_AFTER = timedelta(days=2)  # after the end: the last look, then the count stays as it is
LOOK_BACK = timedelta(days=30)  # sessions further back are not read (a bot that was down long)
HELD = (SessionStatus.SCHEDULED.value, SessionStatus.HELD.value)


class AttendanceApi:
    def __init__(self, client: GraphClient, meetings: MeetingOptionsApi) -> None:
        self.client, self.meetings = client, meetings

    def meeting_id(self, join_url: str) -> str:
        return str(self.meetings.meeting(join_url)["id"])

    def _base(self, meeting_id: str) -> str:
        organiser = segment(self.meetings.organiser_id())
        return f"/users/{organiser}/onlineMeetings/{segment(meeting_id)}/attendanceReports"

    def reports(self, meeting_id: str) -> list[dict[str, Any]]:
        """The meeting's attendance reports; none (Graph's 404) until Teams made the first."""
        try:
            return list(self.client.items(self._base(meeting_id), auth=Auth.APP, permission=PERMISSION))
        except GraphNotFound:
            return []

    def recordings(self, meeting_id: str) -> list[dict[str, Any]]:
        """The meeting's recordings Teams has processed (callRecording), none (404) before any."""
        organiser = segment(self.meetings.organiser_id())
        path = f"/users/{organiser}/onlineMeetings/{segment(meeting_id)}/recordings"
        try:
            return list(self.client.items(path, auth=Auth.APP, permission=RECORDINGS))
        except GraphNotFound:
            return []

    def records(self, meeting_id: str, report_id: str) -> Iterator[dict[str, Any]]:
        path = f"{self._base(meeting_id)}/{segment(report_id)}/attendanceRecords"
        return self.client.items(path, auth=Auth.APP, permission=PERMISSION)


def attendee_key(record: dict[str, Any]) -> str | None:
    """Who a record is about, the same in every report: the directory id, else the address, else
    the record's own id (a guest without either)."""
    identity = record.get("identity") or {}
    for value in (identity.get("id"), record.get("emailAddress"), record.get("id")):
        if isinstance(value, str) and value:
            return value.lower()
    return None


@dataclass(frozen=True)
class Due:
    session_id: int
    join_url: str
    final: bool  # the last look
    meeting_id: str | None
    report_ids: tuple[str, ...]


# Tells a session's organisers something once per key (Core.notify_organisers).
Notify = Callable[[Session, int, str, str, dict[str, Any]], bool]


class Attendance:
    def __init__(self, db: Database, clock: Clock, api: AttendanceApi, notify: Notify) -> None:
        self.db, self.clock, self.api, self.notify = db, clock, api, notify
        self._logged: set[tuple[int, str]] = set()  # recording problems logged (once per process)

    def run_once(self) -> int:
        """Read the reports of every session due a look; returns how many counts changed."""
        now = self.clock.now()
        with self.db.read() as s:
            due = self._due(s, now)
        return sum(self._read(item, now) for item in due)

    def _due(self, s: Session, now: datetime) -> list[Due]:
        rows = s.execute(
            select(SessionRow, GraphEvent.join_url, GraphAttendance)
            .join(GraphEvent, (GraphEvent.session_id == SessionRow.id) & (GraphEvent.part == 0))
            .outerjoin(GraphAttendance, GraphAttendance.session_id == SessionRow.id)
            .where(
                SessionRow.status.in_(HELD),
                SessionRow.start_at <= now,
                SessionRow.start_at >= now - LOOK_BACK,
                GraphEvent.online_meeting.is_(True),
                GraphEvent.join_url.is_not(None),
                GraphEvent.cancelled.is_(False),
            )
            .order_by(SessionRow.start_at)
        ).all()
        found = []
        for session, join_url, state in rows:
            if session.end_at + FIRST_LOOK > now or (state is not None and state.final):
                continue
            final = now >= session.end_at + FINAL_AFTER
            if state is not None and state.checked_at + EVERY > now and not final:
                continue
            known = (state.meeting_id, tuple(state.report_ids)) if state is not None else (None, ())
            found.append(Due(session.id, str(join_url), final, *known))
        return found

    def _read(self, item: Due, now: datetime) -> int:
        meeting_id, report_ids, attended = item.meeting_id, item.report_ids, None
        try:
            meeting_id = meeting_id or self.api.meeting_id(item.join_url)
            reports = self.api.reports(meeting_id)
            found = tuple(sorted(str(r["id"]) for r in reports if r.get("id")))
            if found and found != item.report_ids:
                attended = self._count(meeting_id, found)
                report_ids = found
        except GraphThrottled as exc:
            log.info("attendance of session %s waits for the next pass: %s", item.session_id, exc)
            return 0
        except (GraphError, LoginNeeded) as exc:
            self._failed(item, meeting_id, now, exc)
            return 0
        self._recordings(item.session_id, meeting_id)
        with self.db.transaction() as s:
            state = self._state(s, item.session_id, now)
            state.meeting_id, state.report_ids = meeting_id, list(report_ids)
            state.checked_at, state.problem, state.final = now, None, item.final
            if attended is None:
                known = s.get(SessionAttendance, item.session_id)
                if known is None or not item.final:
                    return 0
                attended = known.attended  # the last look found nothing new: the count is final
            changed = record_attendance(
                s, ACTOR, item.session_id, attended, source=SOURCE, final=item.final, now=now
            )
        if changed:
            log.info("attendance: session %s had %s attendees (Teams)", item.session_id, attended)
        return int(changed)

    def _recordings(self, session_id: int, meeting_id: str) -> None:
        """Tell the organisers once about each recording of the meeting (see the module's text)."""
        try:
            found = [str(r["id"]) for r in self.api.recordings(meeting_id) if r.get("id")]
        except (GraphError, LoginNeeded) as exc:
            if (session_id, str(exc)) not in self._logged:
                self._logged.add((session_id, str(exc)))
                log.warning("recordings of session %s not read: %s", session_id, exc)
            return
        with self.db.transaction() as s:
            for recording in found:
                key = f"s{session_id}:recording:{recording}"[:200]
                if self.notify(s, session_id, kinds.RECORDING_READY, key, {"recording": recording}):
                    log.info("session %s: Teams recording ready; organisers told", session_id)

    def _count(self, meeting_id: str, report_ids: tuple[str, ...]) -> int:
        """Distinct attendees over all the reports (someone who joined twice counts once)."""
        people = {
            key
            for report_id in report_ids
            for record in self.api.records(meeting_id, report_id)
            if (key := attendee_key(record)) is not None
        }
        return len(people)

    def _failed(self, item: Due, meeting_id: str | None, now: datetime, exc: Exception) -> None:
        problem = str(exc)
        if isinstance(exc, GraphAuthError):
            problem = (
                f"{exc}; and a Teams application access policy granted for the organiser (see the README)"
            )
        with self.db.transaction() as s:
            state = self._state(s, item.session_id, now)
            if state.problem != problem[:500]:
                log.warning("attendance of session %s not read: %s", item.session_id, problem)
            state.meeting_id, state.checked_at, state.problem = meeting_id, now, problem[:500]
            state.final = item.final  # no more tries after the last look

    @staticmethod
    def _state(s: Session, session_id: int, now: datetime) -> GraphAttendance:
        state = s.get(GraphAttendance, session_id)
        if state is None:
            state = GraphAttendance(session_id=session_id, report_ids=[], final=False, checked_at=now)
            s.add(state)
        return state


def problems(s: Session) -> list[tuple[int, str]]:
    """(session id, problem) of each session whose attendance could not be read at the last try and
    is still to be read again."""
    rows = s.execute(
        select(GraphAttendance.session_id, GraphAttendance.problem)
        .where(GraphAttendance.problem.is_not(None), GraphAttendance.final.is_(False))
        .order_by(GraphAttendance.session_id)
    ).all()
    return [(session_id, str(problem)) for session_id, problem in rows]
