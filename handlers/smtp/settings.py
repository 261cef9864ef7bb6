"""The SMTP channel's settings: the relay, how to reach it safely, and the sender address.

TLS is verified against the system's CAs (or `SSL_CERT_FILE`, like a company CA); a password is
never sent over a connection that is not encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.addresses import BadAddress, mailbox
from bot.settings import Reader, boolean, port, positive_float

SUBMISSION = 587  # STARTTLS (RFC 6409)
SUBMISSIONS = 465  # TLS from the first byte (RFC 8314)
IMAPS = 993  # IMAP over TLS from the first byte (RFC 8314)
IMAP = 143  # IMAP, upgraded with STARTTLS


@dataclass(frozen=True)
class ImapSettings:
    """The mailbox bounces come back to (BOUNCE_IMAP_*), read over TLS; a mailbox for bounces
    only, as the bot deletes what it has read there."""

    host: str
    username: str
    password: str = field(repr=False)
    port: int = IMAPS
    tls: bool = True  # TLS from the first byte (993); false: STARTTLS (143)
    folder: str = "INBOX"
    timeout: float = 30.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str  # SMTP_FROM: the From address, the envelope sender and the .ics organiser
    port: int = SUBMISSION
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True  # upgrade a plain connection (port 587)
    tls: bool = False  # TLS from the start (port 465)
    # Seconds a connection or one answer may take before the attempt counts as failed.
    timeout: float = 30.0
    # BOUNCE_ADDRESS: the envelope sender (MAIL FROM), where bounces go; None: the sender.
    bounce_address: str | None = None
    bounce_imap: ImapSettings | None = None


def smtp_settings(r: Reader, *, microsoft: bool) -> tuple[SmtpSettings | None, str | None]:
    """The section from SMTP_*; None and the reason when SMTP is off (not set, or Microsoft 365
    carries the mail: its meetings are the invitations, and one mailbox sends everything)."""
    host = r.text("SMTP_HOST")
    if host is None:
        return None, "SMTP is off: SMTP_HOST not set"
    if microsoft:
        return None, "SMTP is off: Microsoft 365 is configured and carries the mail"
    tls = r.parsed("SMTP_TLS", False, boolean, "true or false")
    starttls = r.parsed("SMTP_STARTTLS", not tls, boolean, "true or false")
    if tls and starttls:
        r.problems.append("SMTP_TLS and SMTP_STARTTLS: choose one (TLS from the start, or STARTTLS)")
    username, password = r.text("SMTP_USERNAME"), r.text("SMTP_PASSWORD")
    if (username is None) != (password is None):
        r.problems.append("SMTP_USERNAME and SMTP_PASSWORD: set both or neither")
    if username is not None and not (tls or starttls):
        r.problems.append("SMTP_USERNAME: a password is sent only over TLS (set SMTP_STARTTLS or SMTP_TLS)")
    raw_sender = r.text("SMTP_FROM")
    sender = ""
    if raw_sender is None:
        r.problems.append("SMTP_FROM: the sender address is needed with SMTP_HOST")
    else:
        try:
            sender = mailbox(raw_sender)
        except BadAddress as exc:
            r.problems.append(f"SMTP_FROM: {raw_sender!r} is not one e-mail address ({exc.reason})")
    return (
        SmtpSettings(
            host=host,
            sender=sender,
            port=r.parsed("SMTP_PORT", SUBMISSIONS if tls else SUBMISSION, port, "a port number (0-65535)"),
            username=username,
            password=password,
            starttls=starttls,
            tls=tls,
            timeout=r.parsed("SMTP_TIMEOUT", 30.0, positive_float, "a positive number of seconds"),
            bounce_address=_address(r, "BOUNCE_ADDRESS"),
            bounce_imap=imap_settings(r),
        ),
        None,
    )


def _address(r: Reader, name: str) -> str | None:
    raw = r.text(name)
    if raw is None:
        return None
    try:
        return mailbox(raw)
    except BadAddress as exc:
        r.problems.append(f"{name}: {raw!r} is not one e-mail address ({exc.reason})")
        return None


def imap_settings(r: Reader) -> ImapSettings | None:
    """The bounce mailbox from BOUNCE_IMAP_*; None when BOUNCE_IMAP_HOST is not set."""
    host = r.text("BOUNCE_IMAP_HOST")
    if host is None:
        return None
    tls = r.parsed("BOUNCE_IMAP_TLS", True, boolean, "true or false")
    username, password = r.text("BOUNCE_IMAP_USERNAME"), r.text("BOUNCE_IMAP_PASSWORD")
    if username is None or password is None:
        r.problems.append(
            "BOUNCE_IMAP_USERNAME and BOUNCE_IMAP_PASSWORD: both are needed with BOUNCE_IMAP_HOST"
        )
    return ImapSettings(
        host=host,
        username=username or "",
        password=password or "",
        port=r.parsed("BOUNCE_IMAP_PORT", IMAPS if tls else IMAP, port, "a port number (0-65535)"),
        tls=tls,
        folder=r.text("BOUNCE_IMAP_FOLDER", "INBOX") or "INBOX",
        timeout=r.parsed("SMTP_TIMEOUT", 30.0, positive_float, "a positive number of seconds"),
    )
