"""SMTP as a `Channel`: the mail sender ("smtp") of the delivery engine (invitations with a meeting
request, changes, cancellations, reminders, follow-ups and organiser notices, one mail per person
with an address) and the mail transport of the web pages. Nothing to receive, nothing in the
background."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from bot.bounce_source import BounceSource
from bot.calendar_ids import uid_host
from bot.channel import Channel
from bot.core import Core
from bot.delivery.channels import Pace, Sender
from bot.mail import Mailer
from bot.mail_delivery import MailDelivery
from handlers.smtp import NAME, TEMPLATES
from handlers.smtp.bounces import ImapBounces
from handlers.smtp.mailer import SmtpMailer
from handlers.smtp.settings import SmtpSettings
from handlers.smtp.transport import SmtpTransport

log = logging.getLogger(__name__)


class SmtpChannel(Channel):
    name = NAME
    templates = TEMPLATES

    def __init__(self, core: Core, settings: SmtpSettings) -> None:
        self.core, self.settings = core, settings
        rate = core.settings.limits.mail_rate_per_minute
        # The same key as any sender from this address: every process and mail kind share the pace.
        pace = Pace(f"mail:{settings.sender.lower()}", timedelta(seconds=60 / rate))
        self.transport = SmtpTransport(settings, pace)
        self.delivery = MailDelivery(core.renderer, core.settings, self.transport, core.clock, channel=NAME)

    def health(self) -> str:
        # A relay that refuses the bot pauses this channel's sender: /healthz shows that hold itself.
        return "on"

    def senders(self) -> Sequence[Sender]:
        return [self.delivery]

    def bounce_source(self) -> BounceSource | None:
        imap = self.settings.bounce_imap
        return ImapBounces(imap) if imap is not None else None

    def mail_transport(self) -> Mailer:
        host = uid_host(self.core.settings.public_base_url)
        return SmtpMailer(self.transport, self.core.db, self.core.clock, host)

    def start(self) -> None:
        s = self.settings
        security = "TLS" if s.tls else ("STARTTLS" if s.starttls else "no encryption")
        log.info("SMTP: on (mail from %s through %s:%s, %s)", s.sender, s.host, s.port, security)
        if s.bounce_imap is not None:
            imap = s.bounce_imap
            log.info("SMTP: bounces read from %s:%s (%s)", imap.host, imap.port, imap.folder)
