"""The options of a session's Teams meeting for a public webinar, set through Graph's onlineMeetings:
everyone joins without waiting in the lobby (people from other municipalities included), only the
session's speakers who are in the tenant present (else only the organiser), and the meeting is
recorded.

Exchange makes the meeting (calendar_sync); this finds it by its join link
(`GET /users/{organiser id}/onlineMeetings?$filter=JoinWebUrl eq '…'`) and PATCHes the options. It
needs the application permission `OnlineMeetings.ReadWrite.All` and a Teams application access policy
granted for the organiser. Each meeting gets its options once (recorded as a digest of the join link
and the speakers, so a meeting made again or new speakers apply them again); a failure is recorded
on the meeting, shown by `teams status` and /healthz, retried later, and never holds up the invitation.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.commands import Actor
from bot.db import Database
from bot.models import Session as SessionRow
from bot.models import SessionStatus
from bot.services import audit
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.errors import (
    GraphAuthError,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    LoginNeeded,
)
from handlers.microsoft365.models import GraphEvent

log = logging.getLogger(__name__)

ACTOR = Actor(platform="graph", external_id="calendar", is_operator=True)  # as calendar_sync's

PERMISSION = "OnlineMeetings.ReadWrite.All"
DIRECTORY = "User.Read.All"
AREA = "meeting options"  # how /healthz and `teams status` name a problem here
RETRY_AFTER = timedelta(minutes=15)  # a meeting whose options failed is tried again after this
ADDRESS = re.compile(r"[^\s<>,;()\"]+@[^\s<>,;()\"]+\.[^\s<>,;()\"]+")


@dataclass(frozen=True)
class Presenter:
    id: str  # the Entra object id
    upn: str | None


def speakers_of(text: str | None) -> list[str]:
    """The speakers as written (`Kari Nordmann, Ola <ola@ks.no>`): each an address or a name."""
    found = []
    for entry in re.split(r"[,;]|\bog\b|\band\b", text or ""):
        address = ADDRESS.search(entry)
        name = entry.strip(" \t\"'")
        if address:
            found.append(address.group(0).lower())
        elif name:
            found.append(name)
    return found


def options_body(presenters: list[Presenter], attendees: list[dict[str, Any]]) -> dict[str, Any]:
    """The PATCH: lobby bypass for everyone, recording on, and who presents. With presenters, Graph
    wants the meeting's full attendee list, each with a role: the others keep theirs (a presenter no
    longer a speaker goes back to attendee, and anyone from outside stays on it)."""
    body: dict[str, Any] = {
        "lobbyBypassSettings": {"scope": "everyone", "isDialInBypassEnabled": True},
        "recordAutomatically": True,
        "allowedPresenters": "roleIsPresenter" if presenters else "organizer",
    }
    if presenters:
        chosen = {p.id for p in presenters}
        listed = []
        for entry in attendees:
            user_id = ((entry.get("identity") or {}).get("user") or {}).get("id")
            if user_id in chosen or not (isinstance(user_id, str) or entry.get("upn")):
                continue
            role = entry.get("role") if entry.get("role") != "presenter" else "attendee"
            kept = {k: entry[k] for k in ("identity", "upn") if entry.get(k)}  # a guest may have no id
            listed.append({**kept, "role": role or "attendee"})
        listed += [{**_participant(p.id, p.upn), "role": "presenter"} for p in presenters]
        body["participants"] = {"attendees": listed}
    return body


def _participant(user_id: str, upn: object) -> dict[str, Any]:
    entry: dict[str, Any] = {"identity": {"user": {"id": user_id}}}
    if isinstance(upn, str) and upn:
        entry["upn"] = upn
    return entry


class MeetingOptionsApi:
    def __init__(self, client: GraphClient, organiser: str) -> None:
        self.client, self.organiser = client, organiser
        self._organiser_id: str | None = None

    def organiser_id(self) -> str:
        """The organiser's Entra object id: onlineMeetings with an app token take no UPN."""
        if self._organiser_id is None:
            user = self.client.call(
                "GET",
                f"/users/{segment(self.organiser)}",
                auth=Auth.APP,
                permission=DIRECTORY,
                params={"$select": "id"},
            ).object()
            self._organiser_id = str(user["id"])
        return self._organiser_id

    def tenant_user(self, speaker: str) -> Presenter | None:
        """The speaker's account in the tenant (by address, or by a display name only one user has)."""
        prop = "mail" if ADDRESS.fullmatch(speaker) else "displayName"
        value = speaker.replace("'", "''")
        found = list(
            self.client.items(
                "/users",
                auth=Auth.APP,
                permission=DIRECTORY,
                params={"$filter": f"{prop} eq '{value}'", "$select": "id,userPrincipalName"},
            )
        )
        if len(found) != 1 or not isinstance(found[0].get("id"), str):
            return None
        upn = found[0].get("userPrincipalName")
        return Presenter(found[0]["id"], upn if isinstance(upn, str) else None)

    def meeting(self, join_url: str) -> dict[str, Any]:
        """The online meeting behind a join link (GraphNotFound when there is none)."""
        url = join_url.replace("'", "''")
        found = self.client.call(
            "GET",
            f"/users/{segment(self.organiser_id())}/onlineMeetings",
            auth=Auth.APP,
            permission=PERMISSION,
            params={"$filter": f"JoinWebUrl eq '{url}'"},
        ).object()
        meetings = [m for m in found.get("value") or [] if isinstance(m, dict) and m.get("id")]
        if not meetings:
            raise GraphNotFound("no online meeting has this session's join link")
        return meetings[0]

    def check_access(self) -> None:
        """Ask for the organiser's meetings (none has this link): a 403 says the permission or the
        application access policy is missing before any meeting needs it."""
        with contextlib.suppress(GraphNotFound):
            self.meeting("https://teams.microsoft.com/l/meetup-join/baerekraft-bot-access-check")

    def update(self, meeting_id: str, body: dict[str, Any]) -> None:
        self.client.call(
            "PATCH",
            f"/users/{segment(self.organiser_id())}/onlineMeetings/{segment(meeting_id)}",
            auth=Auth.APP,
            permission=PERMISSION,
            json=body,
            idempotent=True,  # the same options again change nothing
        )


def problems(s: Session, now: datetime) -> list[tuple[int, str]]:
    """(session id, problem) of each upcoming session whose meeting options could not be set: kept in
    the database, so every process (and `teams status`) sees them, and gone once the session is."""
    rows = s.execute(
        select(GraphEvent.session_id, GraphEvent.options_problem)
        .join(SessionRow, SessionRow.id == GraphEvent.session_id)
        .where(
            GraphEvent.options_problem.is_not(None),
            GraphEvent.cancelled.is_(False),
            SessionRow.status == SessionStatus.SCHEDULED.value,
            SessionRow.start_at > now,
        )
        .order_by(GraphEvent.session_id)
    ).all()
    return [(session_id, str(problem)) for session_id, problem in rows]


class MeetingOptions:
    def __init__(self, db: Database, clock: Clock, api: MeetingOptionsApi) -> None:
        self.db, self.clock, self.api = db, clock, api

    def apply(self, session_id: int) -> int:
        """Set the options of the session's Teams meeting if it has not got them yet (1: set now)."""
        with self.db.read() as s:
            row = s.scalar(
                select(GraphEvent).where(GraphEvent.session_id == session_id, GraphEvent.part == 0)
            )
            session = s.get(SessionRow, session_id)
            if row is None or session is None or not self._due(row, session):
                return 0
            row_id, join_url, speakers = row.id, str(row.join_url), session.speakers
            wanted = digest(join_url, speakers)
            if wanted == row.options_digest:
                return 0
        try:
            presenters = [p for p in map(self.api.tenant_user, speakers_of(speakers)) if p is not None]
            meeting = self.api.meeting(join_url)
            attendees = (meeting.get("participants") or {}).get("attendees") or []
            self.api.update(str(meeting["id"]), options_body(presenters, attendees))
        except GraphThrottled as exc:
            log.info("calendar: meeting options of session %s wait for the next pass: %s", session_id, exc)
            return 0
        except (GraphError, LoginNeeded) as exc:
            self._failed(row_id, session_id, exc)
            return 0
        self._record(row_id, wanted, None, presenters=len(presenters))
        log.info(
            "calendar: session %s's meeting set up as a webinar (%s presenters)", session_id, len(presenters)
        )
        return 1

    def _due(self, row: GraphEvent, session: SessionRow) -> bool:
        if not row.online_meeting or not row.join_url or row.cancelled or row.event_id is None:
            return False
        if session.status != SessionStatus.SCHEDULED.value:
            return False
        if row.options_problem and row.options_tried_at is not None:
            return self.clock.now() - row.options_tried_at >= RETRY_AFTER
        return True

    def _failed(self, row_id: int, session_id: int, exc: Exception) -> None:
        problem = str(exc)
        if isinstance(exc, GraphAuthError):
            problem = (
                f"{exc}; and a Teams application access policy granted for the organiser "
                "(see the README: Meeting options)"
            )
        log.warning("calendar: meeting options of session %s not set: %s", session_id, problem)
        self._record(row_id, None, problem[:500])

    def _record(self, row_id: int, applied: str | None, problem: str | None, *, presenters: int = 0) -> None:
        """Store the outcome; options set are audited with it, in the same transaction."""
        now = self.clock.now()
        with self.db.transaction() as s:
            row = s.get(GraphEvent, row_id)
            if row is None:
                return
            if applied is not None:
                row.options_digest = applied
                series_id = s.scalar(select(SessionRow.series_id).where(SessionRow.id == row.session_id))
                audit.record_for_system(
                    s,
                    ACTOR,
                    now,
                    "session.meeting_options_set",
                    series_id=series_id,
                    subject=("session", row.session_id),
                    presenters=presenters,
                )
            row.options_problem, row.options_tried_at = problem, now


def digest(join_url: str, speakers: str | None) -> str:
    """What the options were set for: the meeting (its join link) and the speakers as written."""
    return hashlib.sha256(f"{join_url}\n{speakers or ''}".encode()).hexdigest()
