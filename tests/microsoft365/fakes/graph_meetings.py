"""The fake Graph's online meetings, as Graph's onlineMeeting pages describe them for an app:

- `GET /users/{userId}/onlineMeetings?$filter=JoinWebUrl eq '{joinWebUrl}'` finds a meeting by its
  join link (a collection of one, or none); the filter is required. `userId` is the organiser's
  object id (a UPN is not accepted), and the app must be granted an application access policy for
  that user (`policy_users`), else 403, as it must hold `OnlineMeetings.ReadWrite.All` (or
  `.Read.All` to read).
- `PATCH /users/{userId}/onlineMeetings/{meetingId}` takes only the properties the update page lists
  (anything else: 400), checks their values (`lobbyBypassSettings.scope`, `allowedPresenters`, roles),
  refuses the organiser in `participants`, wants the full attendee list with presenters marked when
  `allowedPresenters` is `roleIsPresenter`, and answers 404 for an unknown meeting.

- `GET /users/{userId}/onlineMeetings/{meetingId}/attendanceReports` lists the meeting's attendance
  reports (`id`, `meetingStartDateTime`, `meetingEndDateTime`, `totalParticipantCount`), and
  `…/attendanceReports/{reportId}/attendanceRecords` a report's records (`id`, `emailAddress`,
  `identity` {`id`, `displayName`}, `role`, `totalAttendanceInSeconds`, `attendanceIntervals`), both
  `page_size` a page with `@odata.nextLink`. They need `OnlineMeetingArtifact.Read.All` and, as the
  options do, the application access policy for the organiser (else 403). Teams makes a report only
  some minutes after a meeting ends (`Report.available_at`): before then the list answers 404.
- `GET /users/{userId}/onlineMeetings/{meetingId}/recordings` lists the meeting's recordings as
  callRecording (`id`, `meetingId`, `callId`, `contentCorrelationId`, `createdDateTime`,
  `endDateTime`, `meetingOrganizer`, and `recordingContentUrl`: Graph's own `/content` address, which
  takes the app's token, not a page a viewer can open), paged; it needs
  `OnlineMeetingRecording.Read.All` and the access policy (else 403). A recording appears once Teams
  has processed it (`Recording.available_at`).

Every Teams meeting event Exchange made (tests.microsoft365.fakes.graph_exchange) has its online
meeting here, found by the event's join link; its options start as Teams' defaults.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode

from tests.fakes.https_fake import Response, error

if TYPE_CHECKING:
    from tests.microsoft365.fakes.graph_api import FakeGraph, Handled, Route

READ = "OnlineMeetings.Read.All"
ARTIFACTS = "OnlineMeetingArtifact.Read.All"
RECORDINGS = "OnlineMeetingRecording.Read.All"
WRITE = "OnlineMeetings.ReadWrite.All"
UPDATABLE = {
    "allowAttendeeToEnableCamera",
    "allowAttendeeToEnableMic",
    "allowBreakoutRooms",
    "allowCopyingAndSharingMeetingContent",
    "allowedLobbyAdmitters",
    "allowedPresenters",
    "allowLiveShare",
    "allowMeetingChat",
    "allowPowerPointSharing",
    "allowRecording",
    "allowTeamworkReactions",
    "allowTranscription",
    "allowWhiteboard",
    "anonymizeIdentityForRoles",
    "endDateTime",
    "isEntryExitAnnounced",
    "lobbyBypassSettings",
    "participants",
    "recordAutomatically",
    "startDateTime",
    "subject",
    "watermarkProtection",
    "broadcastSettings",
}
LOBBY_SCOPES = {
    "organizer",
    "organization",
    "organizationAndFederated",
    "everyone",
    "invited",
    "organizationExcludingGuests",
}
PRESENTERS = {"everyone", "organization", "roleIsPresenter", "organizer"}
ROLES = {"attendee", "presenter", "producer", "coorganizer"}
USER_FILTER = re.compile(r"(mail|displayName) eq '((?:[^']|'')*)'")
FILTER = re.compile(r"JoinWebUrl eq '((?:[^']|'')*)'")
NOT_ALLOWED = (
    "Application is not allowed to perform operations on the user '{}', neither is allowed access "
    "through RSC permission evaluation."
)


@dataclass
class OnlineMeeting:
    id: str
    join_url: str
    options: dict[str, Any] = field(
        default_factory=lambda: {
            "allowedPresenters": "everyone",
            "recordAutomatically": False,
            "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
            "participants": {"attendees": []},
        }
    )
    patches: list[dict[str, Any]] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)


@dataclass(frozen=True)
class Recording:
    """A recording of one time the meeting was held, listed once Teams has processed it."""

    id: str
    started: datetime
    ended: datetime
    available_at: datetime


@dataclass(frozen=True)
class Attendee:
    """One person in a meeting, as an attendance record names them (a guest may have no address)."""

    id: str
    name: str
    email: str = ""
    role: str = "Attendee"
    seconds: int = 1800


@dataclass(frozen=True)
class Report:
    """One meeting's attendance report: Teams makes one each time the meeting ends."""

    id: str
    started: datetime
    ended: datetime
    available_at: datetime  # some minutes after `ended`
    attendees: tuple[Attendee, ...]

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "meetingStartDateTime": _iso(self.started),
            "meetingEndDateTime": _iso(self.ended),
            "totalParticipantCount": len(self.attendees),
        }

    def records(self) -> list[dict[str, Any]]:
        return [
            {
                "id": a.id,
                "emailAddress": a.email,
                "totalAttendanceInSeconds": a.seconds,
                "role": a.role,
                "identity": {"id": a.id, "displayName": a.name, "tenantId": None},
                "attendanceIntervals": [
                    {
                        "joinDateTime": _iso(self.started),
                        "leaveDateTime": _iso(self.ended),
                        "durationInSeconds": a.seconds,
                    }
                ],
            }
            for a in self.attendees
        ]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def meeting_routes(graph: FakeGraph) -> list[Route]:
    from tests.microsoft365.fakes.graph_api import Route

    meetings = graph.meetings
    base = r"/users/([^/]+)/onlineMeetings"
    return [
        # Graph reads with .Read.All too; the bot holds .ReadWrite.All, which is all the fake accepts.
        Route("GET", re.compile(base), meetings.find, WRITE),
        Route("GET", re.compile(rf"{base}/([^/]+)/attendanceReports"), meetings.reports, ARTIFACTS),
        Route("GET", re.compile(rf"{base}/([^/]+)/recordings"), meetings.list_recordings, RECORDINGS),
        Route(
            "GET",
            re.compile(rf"{base}/([^/]+)/attendanceReports/([^/]+)/attendanceRecords"),
            meetings.records,
            ARTIFACTS,
        ),
        Route("PATCH", re.compile(rf"{base}/([^/]+)"), meetings.patch, WRITE),
        Route("GET", re.compile("/users"), meetings.search_users, "User.Read.All"),
    ]


class Meetings:
    def __init__(self, graph: FakeGraph) -> None:
        self.graph, self.tenant = graph, graph.tenant
        self._meetings: dict[str, OnlineMeeting] = {}
        self._lock = threading.Lock()
        # Users whose meetings the app may handle (Grant-CsApplicationAccessPolicy); None: the organiser.
        self.policy_users: set[str] | None = None

    def of(self, join_url: str) -> OnlineMeeting | None:
        """The online meeting behind a join link of a live Teams meeting event (made on first sight)."""
        events = [e for e in self.tenant.live_events() if e.join_url == join_url]
        if not events:
            return None
        with self._lock:
            found = self._meetings.get(join_url)
            if found is None:
                digest = hashlib.sha256(join_url.encode()).hexdigest()[:24]
                found = self._meetings[join_url] = OnlineMeeting(
                    f"MSo{digest}_19:meeting@thread.v2", join_url
                )
            return found

    def held(self, join_url: str, report: Report) -> None:
        """The meeting behind `join_url` took place: its report appears at `report.available_at`."""
        meeting = self.of(join_url)
        assert meeting is not None, "no live Teams meeting has this join link"
        with self._lock:
            meeting.reports.append(report)

    def _by_id(self, meeting_id: str) -> OnlineMeeting | None:
        with self._lock:
            found = next((m for m in self._meetings.values() if m.id == meeting_id), None)
        return found if found is not None and self.of(found.join_url) is not None else None

    def _available(self, meeting: OnlineMeeting) -> list[Report]:
        now = self.tenant.now()
        with self._lock:
            return [r for r in meeting.reports if r.available_at <= now]

    def reports(self, call: Handled) -> Response:
        refused = self._allowed(call)
        if refused is not None:
            return refused
        meeting = self._by_id(unquote(call.groups[1]))
        if meeting is None:
            return error(404, "NotFound", "meeting not found")
        found = self._available(meeting)
        if not found:  # the meeting has not ended, or Teams has not made its report yet
            return error(404, "NotFound", "The attendance report is not available yet.")
        return self._page(call, [r.json() for r in found])

    def records(self, call: Handled) -> Response:
        refused = self._allowed(call)
        if refused is not None:
            return refused
        meeting = self._by_id(unquote(call.groups[1]))
        report = (
            next((r for r in self._available(meeting) if r.id == call.groups[2]), None) if meeting else None
        )
        if report is None:
            return error(404, "NotFound", "attendance report not found")
        return self._page(call, report.records())

    def recorded(self, join_url: str, recording: Recording) -> None:
        """The meeting behind `join_url` was recorded: listed from `recording.available_at`."""
        meeting = self.of(join_url)
        assert meeting is not None, "no live Teams meeting has this join link"
        with self._lock:
            meeting.recordings.append(recording)

    def list_recordings(self, call: Handled) -> Response:
        refused = self._allowed(call)
        if refused is not None:
            return refused
        meeting = self._by_id(unquote(call.groups[1]))
        if meeting is None:
            return error(404, "NotFound", "meeting not found")
        now = self.tenant.now()
        with self._lock:
            found = [r for r in meeting.recordings if r.available_at <= now]
        path = f"{self.graph.base}/users/{call.groups[0]}/onlineMeetings/{quote(meeting.id)}/recordings"
        organiser = {"user": {"id": call.groups[0], "tenantId": "tenant-0001"}}
        items = [
            {
                "id": r.id,
                "meetingId": meeting.id,
                "callId": f"call-{r.id}",
                "contentCorrelationId": f"corr-{r.id}",
                "createdDateTime": _iso(r.started),
                "endDateTime": _iso(r.ended),
                "meetingOrganizer": organiser,
                "recordingContentUrl": f"{path}/{r.id}/content",
            }
            for r in found
        ]
        return self._page(call, items)

    def _page(self, call: Handled, items: list[dict[str, Any]]) -> Response:
        skip = int(call.request.query.get("$skiptoken", "0"))
        size = self.graph.page_size
        body: dict[str, Any] = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            query = urlencode({"$skiptoken": str(skip + size)}, quote_via=quote)
            body["@odata.nextLink"] = f"{self.graph.base}{quote(call.request.path[len('/v1.0') :])}?{query}"
        return Response(200, body)

    def _allowed(self, call: Handled) -> Response | None:
        user_id = call.groups[0]
        user = self.tenant.users.get(user_id)
        if user is None:  # a UPN, or nobody: Graph wants the organiser's object id here
            return error(404, "NotFound", f"user {user_id} not found (use the object id)")
        allowed = self.policy_users
        if allowed is None:
            allowed = {
                u.id for u in self.tenant.users.values() if (u.mail or "").lower() == self.tenant.organiser
            }
        if user_id not in allowed:
            return error(403, "Forbidden", NOT_ALLOWED.format(user_id))
        return None

    def find(self, call: Handled) -> Response:
        refused = self._allowed(call)
        if refused is not None:
            return refused
        wanted = FILTER.fullmatch(unquote(call.request.query.get("$filter", "")))
        if wanted is None:
            return error(400, "BadRequest", "Filter expression is required: JoinWebUrl eq '<url>'")
        meeting = self.of(wanted.group(1).replace("''", "'"))
        return Response(200, {"value": [self._json(meeting)] if meeting else []})

    def patch(self, call: Handled) -> Response:
        refused = self._allowed(call)
        if refused is not None:
            return refused
        meeting = self._by_id(call.groups[1])
        if meeting is None:
            return error(404, "NotFound", "meeting not found")
        body = call.json()
        problem = _invalid(body, self.tenant.users.keys())
        if problem:
            return error(400, "BadRequest", problem)
        with self._lock:
            meeting.patches.append(copy.deepcopy(body))
            meeting.options.update(body)
        return Response(200, self._json(meeting))

    def search_users(self, call: Handled) -> Response:
        """`GET /users?$filter=mail eq '…'` or `displayName eq '…'` (exact, case-insensitive as Graph's
        default `eq` on these properties); any other filter, or none, is refused here."""
        found = USER_FILTER.fullmatch(unquote(call.request.query.get("$filter", "")))
        if found is None:
            return error(400, "Request_UnsupportedQuery", "Unsupported or missing $filter")
        prop, value = found.group(1), found.group(2).replace("''", "'").lower()
        users = [
            u
            for u in self.tenant.users.values()
            if ((u.mail if prop == "mail" else u.name) or "").lower() == value
        ]
        return Response(
            200,
            {
                "value": [
                    {"id": u.id, "displayName": u.name, "mail": u.mail, "userPrincipalName": u.mail or u.id}
                    for u in users
                ]
            },
        )

    def _json(self, meeting: OnlineMeeting) -> dict[str, Any]:
        organiser = next(
            (u for u in self.tenant.users.values() if (u.mail or "").lower() == self.tenant.organiser), None
        )
        options = copy.deepcopy(meeting.options)
        options["participants"]["organizer"] = {
            "upn": self.tenant.organiser,
            "role": "presenter",
            "identity": {"user": {"id": organiser.id if organiser else None}},
        }
        return {"id": meeting.id, "joinWebUrl": meeting.join_url, **options}


def _invalid(body: Any, user_ids: Any) -> str | None:
    """What Graph would refuse in a PATCH body, or None."""
    if not isinstance(body, dict):
        return "the body must be an object"
    unknown = sorted(set(body) - UPDATABLE)
    if unknown:
        return f"properties that cannot be updated: {', '.join(unknown)}"
    lobby = body.get("lobbyBypassSettings")
    if lobby is not None:
        if not isinstance(lobby, dict) or set(lobby) - {"scope", "isDialInBypassEnabled"}:
            return "lobbyBypassSettings takes scope and isDialInBypassEnabled"
        if "scope" in lobby and lobby["scope"] not in LOBBY_SCOPES:
            return f"unknown lobbyBypassScope {lobby['scope']!r}"
    if "recordAutomatically" in body and not isinstance(body["recordAutomatically"], bool):
        return "recordAutomatically is a Boolean"
    presenters = body.get("allowedPresenters")
    if presenters is not None and presenters not in PRESENTERS:
        return f"unknown onlineMeetingPresenters {presenters!r}"
    participants = body.get("participants")
    if presenters == "roleIsPresenter" and not isinstance(participants, dict):
        return "allowedPresenters roleIsPresenter needs the full list of attendees with their roles"
    if participants is not None:
        if not isinstance(participants, dict) or set(participants) - {"attendees"}:
            return "only the attendees of participants can be updated (not the organizer)"
        for attendee in participants.get("attendees") or []:
            user = ((attendee or {}).get("identity") or {}).get("user") or {}
            if attendee.get("role") not in ROLES:
                return f"unknown onlineMeetingRole {attendee.get('role')!r}"
            if user.get("id") is None and not attendee.get("upn"):
                return "an attendee needs an identity or a upn"
            if user.get("id") is not None and user.get("id") not in user_ids:
                return f"attendee {user.get('id')!r} not found"
        if presenters == "roleIsPresenter" and not any(
            a.get("role") == "presenter" for a in participants.get("attendees") or []
        ):
            return "roleIsPresenter without any attendee whose role is presenter"
    return None
