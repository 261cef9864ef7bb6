"""The organiser's calendar through Graph: Teams meeting events, their attendees, updates, cancels.

Exchange does the inviting: an attendee added to an event gets the Teams invitation, one removed
gets a cancellation, and a changed time or title is sent to everyone on the event. Attendees are
hidden from each other (`hideAttendees`) and no replies are asked for (hundreds would flood the
organiser's mailbox).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.errors import GraphNotFound
from handlers.microsoft365.event_merge import address

PERMISSION = "Calendars.ReadWrite"
TEAMS = "teamsForBusiness"


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class EventContent:
    """What a session's event says; the same for each of its parts."""

    subject: str
    body_html: str
    start: datetime
    end: datetime
    location: str | None = None


@dataclass(frozen=True)
class CreatedEvent:
    id: str
    join_url: str | None
    ical_uid: str | None = None  # Exchange's UID of the event, the one its invitations carry
    # The attendees the event has, lower case: those sent, or, when the transaction id had made the
    # event already (a retry, or another process), those it was made with. None: not in the answer.
    attendees: frozenset[str] | None = None


@dataclass(frozen=True)
class CurrentEvent:
    """An event as it is in the organiser's calendar now (it may have been edited in Outlook)."""

    etag: str | None
    body: str
    join_url: str | None
    attendees: list[dict[str, Any]]


def _moment(when: datetime) -> dict[str, str]:
    return {"dateTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def content_fields(content: EventContent) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "subject": content.subject[:255],
        "body": {"contentType": "HTML", "content": content.body_html},
        "start": _moment(content.start),
        "end": _moment(content.end),
    }
    if content.location:
        fields["location"] = {"displayName": content.location[:255]}
    return fields


def attendee_entries(attendees: Sequence[Attendee]) -> list[dict[str, Any]]:
    return [
        {"emailAddress": {"address": a.email, "name": a.name or a.email}, "type": "required"}
        for a in attendees
    ]


def attendee_fields(attendees: Sequence[Attendee]) -> dict[str, Any]:
    return {"attendees": attendee_entries(attendees)}


class CalendarApi:
    def __init__(self, client: GraphClient, organiser: str) -> None:
        self.client, self.organiser = client, organiser
        self.events_path = f"/users/{segment(organiser)}/events"

    def create(
        self, content: EventContent, attendees: Sequence[Attendee], *, online: bool, transaction_id: str
    ) -> CreatedEvent:
        """A new event; the same `transaction_id` again returns the event already made (no duplicate)."""
        body: dict[str, Any] = {
            **content_fields(content),
            **attendee_fields(attendees),
            "isOnlineMeeting": online,
            "hideAttendees": True,
            "responseRequested": False,
            "allowNewTimeProposals": False,
            "transactionId": transaction_id,
        }
        if online:
            body["onlineMeetingProvider"] = TEAMS
        event = self.client.call(
            "POST", self.events_path, auth=Auth.APP, permission=PERMISSION, json=body, idempotent=True
        ).object()
        meeting = event.get("onlineMeeting") or {}
        ical_uid = event.get("iCalUId")
        return CreatedEvent(
            str(event["id"]),
            meeting.get("joinUrl") if isinstance(meeting, dict) else None,
            ical_uid if isinstance(ical_uid, str) and ical_uid else None,
            _addresses(event.get("attendees")),
        )

    def read(self, event_id: str) -> CurrentEvent:
        event = self.client.call(
            "GET",
            f"{self.events_path}/{segment(event_id)}",
            auth=Auth.APP,
            permission=PERMISSION,
            params={"$select": "body,attendees,onlineMeeting"},
        ).object()
        meeting = event.get("onlineMeeting")
        join_url = meeting.get("joinUrl") if isinstance(meeting, dict) else None
        attendees = event.get("attendees")
        return CurrentEvent(
            event.get("@odata.etag") if isinstance(event.get("@odata.etag"), str) else None,
            str((event.get("body") or {}).get("content") or ""),
            join_url if isinstance(join_url, str) and join_url else None,
            [a for a in attendees if address(a)] if isinstance(attendees, list) else [],
        )

    def ical_uid(self, event_id: str) -> str | None:
        """The event's `iCalUId` (for an event made before the bot stored it)."""
        event = self.client.call(
            "GET",
            f"{self.events_path}/{segment(event_id)}",
            auth=Auth.APP,
            permission=PERMISSION,
            params={"$select": "iCalUId"},
        ).object()
        found = event.get("iCalUId")
        return found if isinstance(found, str) and found else None

    def update(self, event_id: str, fields: dict[str, Any], *, etag: str | None = None) -> None:
        """PATCH the event; with `etag`, only if nobody changed it since (else GraphConflict)."""
        self.client.call(
            "PATCH",
            f"{self.events_path}/{segment(event_id)}",
            auth=Auth.APP,
            permission=PERMISSION,
            json=fields,
            headers={"If-Match": etag} if etag else None,
        )

    def teams_meetings(self) -> bool:
        """Whether the organiser's calendar can hold Teams meetings (the mailbox has a Teams licence)."""
        calendar = self.client.call(
            "GET",
            f"/users/{segment(self.organiser)}/calendar",
            auth=Auth.APP,
            permission=PERMISSION,
            params={"$select": "allowedOnlineMeetingProviders"},
        ).object()
        return TEAMS in (calendar.get("allowedOnlineMeetingProviders") or [])

    def cancel(self, event_id: str, comment: str) -> None:
        """Cancel an event that has attendees (they get the cancellation); gone already is fine."""
        with contextlib.suppress(GraphNotFound):
            self.client.call(
                "POST",
                f"{self.events_path}/{segment(event_id)}/cancel",
                auth=Auth.APP,
                permission=PERMISSION,
                json={"comment": comment},
                idempotent=True,
            )

    def delete(self, event_id: str) -> None:
        """Remove an event nobody was invited to yet."""
        with contextlib.suppress(GraphNotFound):
            self.client.call(
                "DELETE", f"{self.events_path}/{segment(event_id)}", auth=Auth.APP, permission=PERMISSION
            )


def _addresses(attendees: object) -> frozenset[str] | None:
    """The e-mail addresses in an event's `attendees`, lower case (malformed entries left out)."""
    if not isinstance(attendees, list):
        return None
    return frozenset(a for a in map(address, attendees) if a)
