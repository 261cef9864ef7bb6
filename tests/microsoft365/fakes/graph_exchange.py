"""The fake Graph's Exchange side: the organiser's events (Exchange mails attendees as they are
added, removed, updated or cancelled), sendMail (JSON or MIME), Sent Items, and the directory.

Events behave as Graph's event-update page says: an online meeting's body carries the join section
(the "meeting blob") Exchange appended when it was made; a PATCH replaces `body` exactly as sent, and a
body sent without that section disables the online meeting (`onlineMeeting` null, the join URL gone).
Each event has an `@odata.etag` that changes with every change (ours or the organiser's in Outlook);
a PATCH whose `If-Match` is not the current one gets 412 ErrorIrresolvableConflict. A mailbox without
Teams (`tenant.teams_meetings = False`) allows no online meeting provider, and an event asked to be a
Teams meeting comes back without one.

A MIME mail's headers are recorded as a mail provider reads them: decoded (RFC 2047) as the stdlib
parser does, except `List-Unsubscribe` and `List-Unsubscribe-Post`, which Gmail, Yahoo and Outlook.com
read only literally (RFC 2369, RFC 8058): those are kept unfolded but not decoded, so an encoded-word
(`=?utf-8?q?=3Chttps=3A...?=`) shows as what it is, a header no client offers a button for.
"""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import email.utils
import html
import math
import re
import secrets
from datetime import timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from tests.fakes.https_fake import Response, error
from tests.microsoft365.fakes.graph_mailbox import returned
from tests.microsoft365.fakes.graph_tenant import Event, Mail, Mailed

if TYPE_CHECKING:
    from tests.microsoft365.fakes.graph_api import FakeGraph, Handled, Route

MAX_ATTENDEES = 500
DAY = timedelta(days=1)
ID = r"([^/]+)"


def exchange_routes(graph: FakeGraph) -> list[Route]:
    from tests.microsoft365.fakes.graph_api import Route

    def r(method: str, path: str, handler: Any, app: str | None, user: str | None = None) -> Route:
        return Route(method, re.compile(path), handler, app, user)

    x = Exchange(graph)
    events = rf"/users/{ID}/events"
    return [
        r("POST", events, x.create_event, "Calendars.ReadWrite"),
        r("GET", rf"/users/{ID}/calendar", x.calendar, "Calendars.ReadWrite"),
        r("GET", rf"{events}/{ID}", x.get_event, "Calendars.ReadWrite"),
        r("PATCH", rf"{events}/{ID}", x.patch_event, "Calendars.ReadWrite"),
        r("POST", rf"{events}/{ID}/cancel", x.cancel_event, "Calendars.ReadWrite"),
        r("DELETE", rf"{events}/{ID}", x.delete_event, "Calendars.ReadWrite"),
        r("POST", rf"/users/{ID}/sendMail", x.send_mail, "Mail.Send"),
        r("GET", rf"/users/{ID}/mailFolders/SentItems/messages", x.sent_items, "Mail.ReadBasic.All"),
        r("GET", rf"/users/{ID}", x.user, "User.Read.All", "User.Read"),
        r("GET", "/me", x.me, None, "User.Read"),
    ]


class Exchange:
    def __init__(self, graph: FakeGraph) -> None:
        self.graph, self.tenant = graph, graph.tenant

    def _mail_about(self, mailed: list[Mailed]) -> None:
        """Exchange mails the attendees about a meeting; each counts against the mailbox's day."""
        self.tenant.exchange += mailed
        if mailed:
            self.tenant.count_recipients(len(mailed))

    def _mine(self, call: Handled) -> bool:
        return call.groups[0].lower() == self.tenant.organiser

    def _event_json(self, event: Event) -> dict[str, Any]:
        return {
            "@odata.etag": event.etag,
            "id": event.id,
            "iCalUId": event.ical_uid,
            **event.fields,
            "body": {"contentType": "html", "content": _document(event.body)},
            "transactionId": event.transaction_id,
            "isOnlineMeeting": event.online,
            "onlineMeetingProvider": "teamsForBusiness" if event.online else "unknown",
            "isCancelled": event.cancelled,
            "onlineMeeting": {"joinUrl": event.join_url} if event.join_url else None,
            "attendees": [{"emailAddress": {"address": a}, "type": "required"} for a in event.attendees],
        }

    def _invite(self, event: Event, addresses: list[str]) -> None:
        """Exchange mails each new attendee the meeting request; one that does not exist bounces."""
        self._mail_about([Mailed("invitation", event.id, a) for a in addresses])
        for address in addresses:
            request = (
                f"From: <{self.tenant.organiser}>\r\nTo: <{address}>\r\n"
                f"Subject: {event.fields.get('subject', '')}\r\n"
                f"Message-ID: <{secrets.token_hex(16)}@fake.exchange>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\n"
            )
            returned(self.graph, request.encode("ascii", "replace"), [address])

    def calendar(self, call: Handled) -> Response:
        if not self._mine(call):
            return error(404, "ErrorItemNotFound")
        teams = self.tenant.teams_meetings
        return Response(
            200,
            {
                "id": "AAMkCalendar=",
                "name": "Calendar",
                "allowedOnlineMeetingProviders": ["teamsForBusiness"] if teams else [],
                "defaultOnlineMeetingProvider": "teamsForBusiness" if teams else "unknown",
            },
        )

    def create_event(self, call: Handled) -> Response:
        if not self._mine(call):
            return error(403, "ErrorAccessDenied", "not the organiser's mailbox")
        body = call.json()
        attendees = [a["emailAddress"]["address"].lower() for a in body.pop("attendees", [])]
        if len(attendees) > MAX_ATTENDEES:
            return error(400, "ErrorTooManyAttendees", "at most 500 attendees")
        transaction = body.pop("transactionId", None)
        with self.tenant.lock:
            for event in self.tenant.events.values():
                if transaction and event.transaction_id == transaction:
                    return Response(201, self._event_json(event))  # a retried create: the same event
            event_id = f"AAMk{secrets.token_urlsafe(12)}="
            online = bool(body.pop("isOnlineMeeting", False)) and self.tenant.teams_meetings
            body.pop("onlineMeetingProvider", None)
            join = f"https://teams.microsoft.com/l/meetup-join/{event_id.rstrip('=')}" if online else None
            event = Event(event_id, transaction, body, attendees, online, join)
            if join:
                event.blob = meeting_blob(join)
                body["body"] = {"contentType": "html", "content": event.body + event.blob}
            self.tenant.events[event_id] = event
            self._invite(event, attendees)
        return Response(201, self._event_json(event))

    def _event(self, call: Handled) -> Event | None:
        event = self.tenant.events.get(call.groups[1])
        return event if event is not None and not event.deleted and self._mine(call) else None

    def get_event(self, call: Handled) -> Response:
        event = self._event(call)
        if event is None:
            return error(404, "ErrorItemNotFound")
        found = self._event_json(event)
        wanted = [f for f in call.request.query.get("$select", "").split(",") if f]
        # As Graph: $select narrows the properties; the id and the OData annotations (ETag) always come.
        kept = {k: v for k, v in found.items() if k == "id" or k.startswith("@odata.") or k in wanted}
        return Response(200, kept if wanted else found)

    def patch_event(self, call: Handled) -> Response:
        body = call.json()
        with self.tenant.lock:
            event = self._event(call)
            if event is None:
                return error(404, "ErrorItemNotFound")
            while self.tenant.before_next_patch:
                self.tenant.before_next_patch.pop(0)(event)
            wanted = call.request.headers.get("if-match")
            if wanted is not None and wanted not in ("*", event.etag):
                return error(412, "ErrorIrresolvableConflict", CONFLICT)
            event.patches.append(copy.deepcopy(body))
            before = list(event.attendees)
            if "attendees" in body:
                after = [a["emailAddress"]["address"].lower() for a in body.pop("attendees")]
                if len(after) > MAX_ATTENDEES:
                    return error(400, "ErrorTooManyAttendees", "at most 500 attendees")
                event.attendees = after
                self._invite(event, [a for a in after if a not in before])
                self._mail_about([Mailed("cancellation", event.id, a) for a in before if a not in after])
            if {"start", "end", "subject", "body", "location"} & body.keys():
                self._mail_about([Mailed("update", event.id, a) for a in event.attendees if a in before])
            if "body" in body and event.blob and event.blob not in str(body["body"].get("content")):
                event.online, event.join_url, event.blob = False, None, None  # the meeting is disabled
            event.fields.update(body)
            event.changed()
        return Response(200, self._event_json(event))

    def cancel_event(self, call: Handled) -> Response:
        with self.tenant.lock:
            event = self._event(call)
            if event is None:
                return error(404, "ErrorItemNotFound")
            if not event.cancelled:
                event.cancelled = True
                event.changed()
                self._mail_about([Mailed("cancellation", event.id, a) for a in event.attendees])
        return Response(202)

    def delete_event(self, call: Handled) -> Response:
        with self.tenant.lock:
            event = self._event(call)
            if event is None:
                return error(404, "ErrorItemNotFound")
            event.deleted = True
        return Response(204)

    def send_mail(self, call: Handled) -> Response:
        if not self._mine(call):
            return error(403, "ErrorAccessDenied", "not the organiser's mailbox")
        kind = call.request.headers.get("content-type", "")
        if kind.startswith("text/plain"):
            mail = _from_mime(base64.b64decode(call.request.body), call.groups[0])
        else:
            found = _from_json(call.json(), call.groups[0])
            if isinstance(found, Response):
                return found
            mail = found
        with self.tenant.lock:
            refused = self._over_limits(len(mail.recipients))
            if refused is not None:
                return refused
            self.tenant.mails.append(mail)
            self.tenant.count_recipients(len(mail.recipients))
        if mail.raw:
            returned(self.graph, mail.raw, mail.recipients)
        return Response(202)

    def _over_limits(self, recipients: int) -> Response | None:
        """Exchange Online's sending limits. Graph documents no error code for them; these mirror the
        non-delivery reports Exchange gives (RESOLVER.ADR.RecipLimit for too many recipients in one
        message, SubmissionQuotaExceeded for the rolling day's recipients, as documented for SMTP
        AUTH submission), the day's as a 429 whose Retry-After says when enough places free."""
        tenant = self.tenant
        if recipients > tenant.recipients_per_message:
            most = tenant.recipients_per_message
            return error(400, "ErrorTooManyRecipients", f"5.5.3 RESOLVER.ADR.RecipLimit; at most {most}")
        now = tenant.now()
        day = [(at, n) for at, n in tenant.submitted if at > now - DAY]
        excess = sum(n for _, n in day) + recipients - tenant.recipients_per_day
        if excess <= 0:
            return None
        freed, wait = 0, DAY.total_seconds()
        for at, n in sorted(day):
            freed += n
            if freed >= excess:
                wait = (at + DAY - now).total_seconds()
                break
        message = (
            "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
            "the mailbox reached its daily limit for message recipients"
        )
        return error(429, "SubmissionQuotaExceeded", message, **{"Retry-After": str(max(1, math.ceil(wait)))})

    def sent_items(self, call: Handled) -> Response:
        wanted = re.fullmatch(r"internetMessageId eq '(.*)'", call.request.query.get("$filter", ""))
        with self.tenant.lock:
            found = [
                m for m in self.tenant.mails if wanted and m.message_id == wanted.group(1).replace("''", "'")
            ]
        return Response(
            200,
            {"value": [{"id": f"sent-{i}", "internetMessageId": m.message_id} for i, m in enumerate(found)]},
        )

    def user(self, call: Handled) -> Response:
        # As Graph: /users/{id | userPrincipalName} (the fake's UPN is the user's mail).
        key = call.groups[0]
        user = self.tenant.users.get(key) or next(
            (u for u in self.tenant.users.values() if u.mail and u.mail.lower() == key.lower()), None
        )
        if user is None:
            return error(404, "Request_ResourceNotFound")
        return Response(
            200,
            {"id": user.id, "displayName": user.name, "mail": user.mail, "preferredLanguage": user.language},
        )

    def me(self, call: Handled) -> Response:
        user = self.tenant.users.get(call.token.user_id or "")
        return Response(200, {"id": user.id, "displayName": user.name}) if user else error(404, "NotFound")


CONFLICT = (
    "The send or update operation could not be performed because the change key passed in the request "
    "does not match the current change key for the item."
)
RULE = (
    '<div style="width:100%"><span style="white-space:nowrap;color:#5F5F5F;opacity:.36">'
    + "_" * 80
    + "</span></div>"
)


def meeting_blob(join_url: str) -> str:
    """The join section Exchange appends to an online meeting's body (shaped like Teams' own)."""
    return (
        f"{RULE}\r\n"
        '<div class="me-email-text" lang="nb-NO" style="color:#252424">\r\n'
        '<div style="margin-top:24px;margin-bottom:20px">'
        '<span style="font-size:24px">Microsoft Teams-møte</span></div>\r\n'
        '<div style="margin-bottom:20px"><div style="font-weight:bold"><span>Bli med på datamaskinen, '
        "mobilappen eller romenheten</span></div>\r\n"
        f'<a class="me-email-headline" href="{html.escape(join_url)}" target="_blank" '
        'rel="noreferrer noopener">Klikk her for å bli med i møtet</a></div>\r\n'
        '<div style="margin-bottom:4px"><span class="me-email-text-secondary">Møte-ID: </span>'
        '<span class="me-email-text">123 456 789 012</span></div>\r\n'
        "</div>\r\n"
        f"{RULE}"
    )


def _document(content: str) -> str:
    """An HTML body as Graph returns it: a whole document around what was sent."""
    if content.lstrip().lower().startswith("<html"):
        return content
    return (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
        f"</head>\r\n<body>\r\n{content}\r\n</body>\r\n</html>\r\n"
    )


LITERAL = ("List-Unsubscribe", "List-Unsubscribe-Post", "Bcc")  # Bcc: read as bytes, for speed


def raw_header(raw: bytes, name: str) -> str | None:
    """A header's value as the bytes carry it: unfolded, never decoded (a mail provider's reading)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = re.search(rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.I | re.M)
    if found is None:
        return None
    return re.sub(rb"\r?\n(?=[ \t])", b"", found.group(1)).rstrip(b"\r").decode("ascii", "replace")


def _from_mime(raw: bytes, sender: str) -> Mail:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    attachments = [
        (part.get_filename() or "", part.get_content_type(), _payload(part))
        for part in parsed.iter_attachments()
        if isinstance(part, EmailMessage)
    ]
    return Mail(
        sender,
        [a.strip() for a in str(parsed["To"]).split(",")],
        str(parsed["Subject"]),
        {k: (raw_header(raw, k) or "") if k in LITERAL else str(parsed[k]) for k in parsed},
        text.get_content() if isinstance(text, EmailMessage) else None,
        html.get_content() if isinstance(html, EmailMessage) else None,
        attachments,
        str(parsed["Message-ID"]),
        "mime",
        raw,
        _addresses(raw, "Cc"),
        _addresses(raw, "Bcc"),
    )


def _addresses(raw: bytes, header: str) -> list[str]:
    """The addresses of a Cc or Bcc header, read from the bytes (parsing 500 addresses with the
    email package would take the fake a quarter of a second a mail)."""
    value = raw_header(raw, header)
    if not value:
        return []
    return [address for _, address in email.utils.getaddresses([value])]


def _payload(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _from_json(body: dict[str, Any], sender: str) -> Mail | Response:
    message = body.get("message", {})
    headers = {h["name"]: h["value"] for h in message.get("internetMessageHeaders") or []}
    if any(not name.lower().startswith("x-") for name in headers):
        return error(400, "InvalidInternetMessageHeader", "custom headers must start with x-")
    content = message.get("body", {})
    return Mail(
        sender,
        [r["emailAddress"]["address"] for r in message.get("toRecipients", [])],
        message.get("subject", ""),
        headers,
        content.get("content") if content.get("contentType") == "text" else None,
        content.get("content") if content.get("contentType") == "html" else None,
        [
            (a["name"], a["contentType"], base64.b64decode(a["contentBytes"]))
            for a in message.get("attachments", [])
        ],
        f"<{secrets.token_hex(8)}@fake.exchange>",
        "json",
        cc=[r["emailAddress"]["address"] for r in message.get("ccRecipients", [])],
        bcc=[r["emailAddress"]["address"] for r in message.get("bccRecipients", [])],
    )
