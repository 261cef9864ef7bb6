"""Bounces as mail servers write them, for the fakes and the tests: a relay's RFC 3464 report
(Postfix's shape) and Exchange Online's non-delivery report (from «Microsoft Outlook», a
`multipart/report` with the original message attached). Compare tests/core/bounce_samples/."""

from __future__ import annotations

import email
import email.policy
import email.utils
import secrets
from datetime import datetime

CRLF = "\r\n"


def _headers_of(original: bytes) -> str:
    head = original.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return head.decode("ascii", "replace").replace("\n", CRLF)


def relay_dsn(
    original: bytes, recipient: str, *, status: str = "5.1.1", sender: str, when: datetime, relay: str
) -> bytes:
    """The report a relay (Postfix) sends to the envelope sender when `recipient` bounced."""
    hard = status.startswith("5")
    boundary = f"{secrets.token_hex(6)}.{int(when.timestamp())}/{relay}"
    words = "User unknown in virtual mailbox table" if hard else "Mailbox full, try again later"
    code = "550" if hard else "452"
    lines = [
        "Return-Path: <>",
        f"Date: {email.utils.format_datetime(when)}",
        f"From: MAILER-DAEMON@{relay} (Mail Delivery System)",
        "Subject: "
        + ("Undelivered Mail Returned to Sender" if hard else "Delayed Mail (still being retried)"),
        f"To: {sender}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        f"Message-Id: <{secrets.token_hex(8)}@{relay}>",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"This is the mail system at host {relay}.",
        "",
        f"<{recipient}>: host mx.example.net said: {code} {status} {words}",
        "",
        f"--{boundary}",
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {relay}",
        f"Arrival-Date: {email.utils.format_datetime(when)}",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        f"Original-Recipient: rfc822;{recipient}",
        f"Action: {'failed' if hard else 'delayed'}",
        f"Status: {status}",
        "Remote-MTA: dns; mx.example.net",
        f"Diagnostic-Code: smtp; {code} {status} <{recipient}>: {words}",
        "",
        f"--{boundary}",
        "Content-Description: Undelivered Message Headers",
        "Content-Type: text/rfc822-headers",
        "",
        _headers_of(original),
        "",
        f"--{boundary}--",
        "",
    ]
    return CRLF.join(lines).encode("ascii", "replace")


def exchange_ndr(original: bytes, recipient: str, *, organiser: str, when: datetime) -> bytes:
    """The NDR Exchange Online puts in the sender's inbox when `recipient` does not exist."""
    parsed = email.message_from_bytes(original, policy=email.policy.compat32)
    domain = organiser.rpartition("@")[2]
    server = "AM9PR07MB7201.eurprd07.prod.outlook.com"
    outer, inner = secrets.token_hex(8), secrets.token_hex(8)
    message_id = str(parsed.get("Message-ID", ""))
    subject = str(parsed.get("Subject", ""))
    diagnostic = (
        f"550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {recipient} not found by SMTP address lookup"
    )
    lines = [
        "MIME-Version: 1.0",
        f"From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@{domain}>",
        f"To: <{organiser}>",
        f"Date: {email.utils.format_datetime(when)}",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{outer}"',
        "X-MS-Exchange-Message-Is-Ndr:",
        f"Message-ID: <{secrets.token_hex(16)}@{server}>",
        f"In-Reply-To: {message_id}",
        f"References: {message_id}",
        f"Subject: Undeliverable: {subject}",
        "Auto-Submitted: auto-replied",
        "",
        f"--{outer}",
        f'Content-Type: multipart/alternative; differences=Content-Type; boundary="{inner}"',
        "",
        f"--{inner}",
        'Content-Type: text/plain; charset="us-ascii"',
        "",
        f"Your message to {recipient} couldn't be delivered.",
        "",
        "Diagnostic information for administrators:",
        f"Remote Server returned '{diagnostic}'",
        "",
        f"--{inner}--",
        "",
        f"--{outer}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns;{server}",
        f"Arrival-Date: {email.utils.format_datetime(when)}",
        "",
        f"Original-Recipient: rfc822;{recipient}",
        f"Final-Recipient: rfc822;{recipient}",
        "Action: failed",
        "Status: 5.1.10",
        f"Diagnostic-Code: smtp;{diagnostic}",
        "",
        f"--{outer}",
        "Content-Type: message/rfc822",
        "",
        original.decode("ascii", "replace").replace("\r\n", "\n").replace("\n", CRLF).rstrip(CRLF),
        "",
        f"--{outer}--",
        "",
    ]
    return CRLF.join(lines).encode("ascii", "replace")
