"""SMTP as the web pages' mail transport (confirmation links): the same relay, pace and MIME as the
deliveries. A failure of any kind is MailFailed; the web's confirmation sender (handlers/web/
mail_sender.py) retries it with back-off, and a second copy of a confirmation link is harmless."""

from __future__ import annotations

import uuid

from bot.clock import Clock
from bot.db import Database
from bot.delivery import pacing
from bot.delivery.channels import ChannelUnavailable, PermanentError, RetryLater, TransientError
from bot.mail import MailFailed, MailMessage
from bot.mail_mime import build_mime
from handlers.smtp.transport import SmtpTransport


class SmtpMailer:
    def __init__(self, transport: SmtpTransport, db: Database, clock: Clock, host: str) -> None:
        self.transport, self.db, self.clock, self.host = transport, db, clock, host

    def send(self, message: MailMessage) -> None:
        """Wait for the shared pace's next slot, then send; raises MailFailed when it cannot go out."""
        with self.db.transaction() as s:
            slot = pacing.reserve(s, self.transport.paces(), self.clock.now())
        self.clock.sleep((slot - self.clock.now()).total_seconds())
        message_id = f"<{uuid.uuid4().hex}@{self.host}>"
        mime = build_mime(message, sender=self.transport.sender, message_id=message_id, date=self.clock.now())
        try:
            self.transport.deliver(mime, to=message.to, message_id=message_id)
        except (TransientError, PermanentError, ChannelUnavailable, RetryLater) as exc:
            raise MailFailed(str(exc)) from exc
