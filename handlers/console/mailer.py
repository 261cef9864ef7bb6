"""Mail as the console shows it (console mode, and any bot without a mail transport): written to the
development mailbox as an `.eml` file when there is one (console mode without SMTP or Microsoft
365), else printed, so a new user still sees confirmation links work."""

from __future__ import annotations

import sys
import threading
import uuid
from typing import TextIO

from bot.clock import Clock
from bot.delivery.channels import TransientError
from bot.mail import MailFailed, MailMessage
from bot.mail_mime import build_mime
from handlers.console.mailbox import EmlFolder


class ConsoleMailer:
    def __init__(
        self,
        out: TextIO | None = None,
        lock: threading.Lock | None = None,
        mailbox: EmlFolder | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.lock = lock or threading.Lock()
        self.mailbox, self.clock = mailbox, clock

    def send(self, message: MailMessage) -> None:
        if self.mailbox is not None and self.clock is not None:
            message_id = f"<{uuid.uuid4().hex}@localhost>"
            mime = build_mime(
                message, sender=self.mailbox.sender, message_id=message_id, date=self.clock.now()
            )
            try:
                self.mailbox.deliver(mime, to=message.to, message_id=message_id)
            except TransientError as exc:
                raise MailFailed(str(exc)) from exc
            return
        with self.lock:
            print(f"\n[mail to {message.to}] {message.subject}\n{message.text}\n", file=self.out, flush=True)
