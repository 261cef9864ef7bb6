"""Mail as the core sees it: a message and something that sends it.

The Microsoft Graph channel provides the real sender; without it the console prints the mail, so a
new user still sees confirmation links work.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Protocol, TextIO


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


class Mailer(Protocol):
    def send(self, message: MailMessage) -> None:
        """Send (or queue for sending) one message; raises on a failure the caller must know about."""
        ...


class ConsoleMailer:
    """Prints mail instead of sending it: console mode and local trials."""

    def __init__(self, out: TextIO | None = None, lock: threading.Lock | None = None) -> None:
        self.out = out or sys.stdout
        self.lock = lock or threading.Lock()

    def send(self, message: MailMessage) -> None:
        with self.lock:
            print(f"\n[mail to {message.to}] {message.subject}\n{message.text}\n", file=self.out, flush=True)
