"""Reading a bounce: a delivery status notification (RFC 3464) as the stdlib's `email` parses it.

A DSN is `multipart/report; report-type=delivery-status` whose `message/delivery-status` part holds
one block of per-message fields, then one block per recipient (`Final-Recipient`, `Action`,
`Status`, `Diagnostic-Code`), and whose last part is the original message (`message/rfc822`) or its
headers (`text/rfc822-headers`). Exchange Online's non-delivery reports ("Undeliverable: …", from
`Microsoft Outlook <MicrosoftExchange…@….onmicrosoft.com>`) are such reports too; a server that wraps
the report in another multipart still has the delivery-status part, so every part is searched.

A status 5.x.x is hard (the address does not take mail), 4.x.x soft (a full mailbox, a server that
is down, a delayed message); `delivered`, `relayed` and `expanded` are no bounce at all. What is not
a report (an out-of-office reply, a person answering) gives no bounce.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import Message
from email.parser import HeaderParser

from bot.addresses import BadAddress, mailbox

BOUNCED = frozenset({"failed", "delayed"})
STATUS = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")
MAX_DIAGNOSTIC = 300


@dataclass(frozen=True)
class Bounce:
    """One recipient a mail did not reach: the address (as the bot keeps addresses), hard or soft,
    the enhanced status code, the server's words, and the Message-ID of the mail that bounced."""

    recipient: str
    hard: bool
    status: str
    diagnostic: str
    original_message_id: str | None
    reported_at: datetime | None = None  # the report's Date, when it has a valid one


def bounces_in(raw: bytes) -> list[Bounce]:
    """The bounces a message reports; empty when it is no delivery status notification."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    report = _delivery_status(message)
    if report is None:
        return []
    blocks = report.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        return []
    original = _original_message_id(message)
    # blocks[0] holds the per-message fields, then one block per recipient.
    found = [_bounce(block, original) for block in blocks[1:] if isinstance(block, Message)]
    when = _date(message.get("Date"))
    return [replace(bounce, reported_at=when) for bounce in found if bounce is not None]


def _date(value: str | None) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return when.astimezone(UTC) if when is not None and when.tzinfo is not None else None


def _delivery_status(message: Message) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            return part
    return None


def _bounce(fields: Message, original: str | None) -> Bounce | None:
    action = (fields.get("Action") or "").strip().lower()
    status = STATUS.match(fields.get("Status") or "")
    # The address as sent (ORCPT), else as the reporting server saw it after any forwarding.
    recipient = _address(fields.get("Original-Recipient") or "") or _address(
        fields.get("Final-Recipient") or ""
    )
    if action not in BOUNCED or status is None or recipient is None or status.group(1) == "2":
        return None
    code = (fields.get("Status") or "").strip().split()[0]
    diagnostic = " ".join((fields.get("Diagnostic-Code") or "").split())
    kind, semicolon, text = diagnostic.partition(";")
    if semicolon and " " not in kind.strip():  # "smtp; 550 …": the type is no news
        diagnostic = text
    hard = status.group(1) == "5" and action == "failed"
    return Bounce(recipient, hard, code[:16], diagnostic.strip()[:MAX_DIAGNOSTIC], original)


def _address(field: str) -> str | None:
    """`rfc822; kari@example.no` → `kari@example.no` as the bot keeps it (an IDNA domain in Unicode)."""
    kind, _, value = field.partition(";")
    if not value:
        kind, value = "rfc822", kind
    if kind.strip().lower() != "rfc822":
        return None
    value = value.strip().strip("<>").strip()
    local, at, domain = value.rpartition("@")
    if not at:
        return None
    try:
        domain = domain.encode("ascii").decode("idna") if "xn--" in domain.lower() else domain
        return mailbox(f"{local}@{domain}")
    except (BadAddress, UnicodeError):
        return None


def _original_message_id(message: Message) -> str | None:
    """The Message-ID of the mail that bounced, from the returned message or its headers."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return _message_id(inner[0].get("Message-ID"))
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                headers = HeaderParser().parsestr(text.decode("ascii", "replace"))
                return _message_id(headers.get("Message-ID"))
    return None


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", value)
    return found.group(0) if found else None
