"""Mail as the core sees it: a message and something that sends it.

A channel that carries mail offers a transport (`Channel.mail_transport`: Exchange through Graph, or
an SMTP relay); without one the console channel writes the mail to its development mailbox (or prints
it), so a new user still sees confirmation links work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    # Extra headers such as List-Unsubscribe / List-Unsubscribe-Post (RFC 8058).
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


class MailFailed(Exception):
    """The transport could not send the message (unreachable, refused, over its limits)."""


class Mailer(Protocol):
    def send(self, message: MailMessage) -> None:
        """Send (or queue for sending) one message; raises MailFailed when it cannot go out."""
        ...
