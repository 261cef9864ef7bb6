"""A mail as MIME (RFC 5322): text and HTML alternatives, attachments (the session's `.ics`), and any
headers we need; the same bytes whatever carries them (Graph's sendMail, SMTP, an `.eml` file).

Graph's JSON sendMail accepts only `X-` custom headers; List-Unsubscribe and List-Unsubscribe-Post
need the MIME route, so every mail the bot sends is built here.

Mail providers read `List-Unsubscribe` only as literal `<https://…>` (RFC 2369, RFC 8058), but the
stdlib's email policy RFC 2047-encodes any header with a word longer than a line (a real unsubscribe
URL is 80–200 characters). `LiteralHeaders` writes those headers as they are, folded only at the
whitespace between their addresses, never encoded.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

from bot.addresses import ascii_mailbox
from bot.calendar_ids import session_uid
from bot.mail import Attachment, MailMessage
from bot.views import SessionView

ICS_PRODID = "-//Baerekraftsfredag bot//Mail//NB"
# Headers we set ourselves; a caller's extra headers may not replace them.
OWN = frozenset({"from", "to", "subject", "date", "message-id", "mime-version", "content-type"})
# Headers read literally by mail providers: written as they are, never RFC 2047-encoded.
LITERAL = frozenset({"list-unsubscribe", "list-unsubscribe-post"})
MAX_LINE = 998  # RFC 5322's hard limit, folding included


class LiteralHeaders(EmailPolicy):
    """SMTP's policy, except that the LITERAL headers (plain ASCII) are written verbatim, folded only
    at whitespace and only where a line would pass the 78-character recommendation."""

    def fold(self, name: str, value: Any) -> str:
        literal = _literal(name, str(value), self.linesep)
        return literal if literal is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        literal = _literal(name, str(value), self.linesep)
        return literal.encode("ascii") if literal is not None else super().fold_binary(name, value)


def _literal(name: str, value: str, linesep: str) -> str | None:
    """`name: value` folded at whitespace only, or None when the header is not one to keep literal
    (or cannot be: not ASCII, or a word longer than a line may be)."""
    if name.lower() not in LITERAL or not value.isascii() or "\r" in value or "\n" in value:
        return None
    words = value.split()
    if (
        not words
        or any(len(word) + 1 > MAX_LINE for word in words)
        or len(name) + len(words[0]) + 2 > MAX_LINE
    ):
        return None
    lines = [f"{name}: {words[0]}"]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= 78:
            lines[-1] += f" {word}"
        else:
            lines.append(f" {word}")
    return linesep.join(lines) + linesep


SMTP = LiteralHeaders(linesep="\r\n")


def one_line(value: str) -> str:
    """Header values never carry a line break (no header injection through a session title)."""
    return " ".join(value.split())


def build_mime(
    message: MailMessage, *, sender: str, message_id: str, date: datetime, bcc: Sequence[str] = ()
) -> bytes:
    """The message as MIME bytes. `bcc`: addresses (ASCII mailboxes, checked by the caller) for a
    Bcc header, folded here one address a line: the email package's header parser takes a quarter
    of a second for 500 of them."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["To"] = ascii_mailbox(one_line(message.to))  # an IDN domain as xn--, never RFC 2047
    mail["Subject"] = one_line(message.subject)
    mail["Date"] = email.utils.format_datetime(date)
    mail["Message-ID"] = message_id
    for name, value in message.headers.items():
        if name.lower() not in OWN:
            mail[one_line(name)] = one_line(value)
    # Quoted-printable: 7-bit clean, so any relay takes it (8BITMIME or not) and lines stay short.
    mail.set_content(message.text, charset="utf-8", cte="quoted-printable")
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in message.attachments:
        kind, *raw_params = (part.strip() for part in attachment.content_type.split(";"))
        maintype, _, subtype = kind.partition("/")
        params = dict(p.partition("=")[::2] for p in raw_params if "=" in p)
        mail.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
            params=params,
        )
    raw = mail.as_bytes()
    if not bcc:
        return raw
    head, body = raw.split(b"\r\n\r\n", 1)
    folded = ",\r\n ".join(one_line(address) for address in bcc).encode("ascii")
    return head + b"\r\nBcc: " + folded + b"\r\n\r\n" + body


@dataclass(frozen=True)
class IcsChoice:
    """Whether a mail about a session carries its `.ics`, and under which UID (see meeting_ics)."""

    include: bool = True
    uid: str | None = None  # the Exchange meeting's iCalUId; None: the feed's `session-<id>@<host>`
    # The mail is the invitation itself (no Exchange meeting): METHOD:REQUEST to the recipient as
    # attendee, so calendars file it as a meeting and later REQUESTs/CANCELs update that entry.
    invite: bool = False


def session_ics(
    session: SessionView,
    *,
    host: str,
    now: datetime,
    organiser: str,
    description: str,
    uid: str | None = None,
    attendee: str | None = None,
) -> Attachment:
    """The session as an `.ics`: `uid` (the Exchange meeting's iCalUId) or the UID of the web calendar
    feed (`session-<id>@<host>`), and the session's SEQUENCE, so calendars update their entry. PUBLISH
    for a planned session (a calendar offers to add or update it); CANCEL for a cancelled one. The MIME
    type names the method and the charset (RFC 6047 2.4). With an `attendee` the `.ics` is a meeting
    request for that address (REQUEST, RFC 5546 3.2.2; not asked to reply) or its cancellation."""
    from icalendar import Calendar, Event  # when a mail carries an invitation: not at start-up

    method = "CANCEL" if session.cancelled else ("REQUEST" if attendee else "PUBLISH")
    calendar = Calendar()
    calendar.add("prodid", ICS_PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid or session_uid(session.id, host))
    event.add("sequence", session.sequence)
    event.add("dtstamp", now)
    event.add("dtstart", session.start)
    event.add("dtend", session.end)
    event.add("summary", f"{session.series.name}: {session.title}")
    event.add("status", "CANCELLED" if session.cancelled else "CONFIRMED")
    event.add("organizer", f"mailto:{organiser}")
    if attendee:
        event.add(
            "attendee",
            f"mailto:{attendee}",
            parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "FALSE"},
        )
    if session.join_url:
        event.add("location", session.join_url)
        event.add("url", session.join_url)
    event.add("description", description)
    calendar.add_component(event)
    kind = f"text/calendar; method={method}; charset=UTF-8"
    return Attachment(f"{session.series.slug}-{session.id}.ics", kind, bytes(calendar.to_ical()))
