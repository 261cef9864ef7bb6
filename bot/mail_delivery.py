"""Mail as a delivery channel ("email") over any transport that takes a finished MIME message: an
SMTP relay (handlers/smtp), or the development mailbox's folder of `.eml` files (handlers/console).

Without an Exchange meeting the mail is the invitation: every mail about a session carries its
`.ics` as a meeting request (METHOD:REQUEST, the session's UID and SEQUENCE, the recipient as
attendee), so the invitation makes one calendar entry that a change (a new SEQUENCE) updates and a
cancellation (METHOD:CANCEL) removes. Exchange through Graph keeps its own sender
(handlers/microsoft365/mail_sender.py), as there the Teams meeting is the invitation.

Exactly once: each delivery has a Message-ID made from its key (`delivery_message_id`), the same in
every attempt. A transport that can tell whether a mail went out answers `find`; one that cannot
(SMTP: an answer lost after DATA) raises Unverifiable, and the engine sends it again and notes so
in the row: the copy has the same Message-ID, which receiving systems use to drop duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.addresses import is_mailbox
from bot.calendar_ids import uid_host
from bot.clock import Clock
from bot.delivery import kinds
from bot.delivery.channels import Headcount, OutgoingMessage, Pace, PermanentError, Recipient, Target
from bot.mail_compose import compose, delivery_message_id
from bot.mail_mime import IcsChoice, build_mime
from bot.rendering import Renderer
from bot.settings import Settings
from bot.views import SeriesView

CHANNEL = "email"
MAILED = kinds.PUBLIC | kinds.ORGANISERS


class MimeTransport(Protocol):
    """Carries one finished MIME message to one address."""

    sender: str  # the From address (and the .ics ORGANIZER)

    def paces(self) -> list[Pace]:
        """The rate limits each mail counts against (shared by every process)."""
        ...

    def deliver(self, mime: bytes, *, to: str, message_id: str) -> str:
        """Send; returns a reference. Raises the engine's errors (bot/delivery/channels.py):
        TransientError (`in_doubt` when the mail may have gone out), PermanentError for this
        address, ChannelUnavailable when no mail can go out now, RetryLater when throttled."""
        ...

    def find(self, message_id: str) -> str | None:
        """The reference of a mail sent with this Message-ID, or None; Unverifiable if it cannot tell."""
        ...


def mail_targets(kind: str, recipients: Sequence[Recipient], mailed: frozenset[str]) -> list[Target]:
    """One mail per person with an address, for the kinds a mail channel carries (`mailed`); the
    target names the person, never the address (read fresh at sending, so an erased or changed
    address is respected)."""
    if kind not in mailed:
        return []
    return [Target(f"person:{r.person_id}", r.language, r.person_id) for r in recipients if r.email]


def mail_count(kind: str, headcount: Headcount, mailed: frozenset[str]) -> int:
    """How many targets `mail_targets` makes of these people."""
    return headcount.people(lambda p: p.mailable) if kind in mailed else 0


def recipient_address(message: OutgoingMessage) -> str:
    """The address to mail `message` to, as stored now; PermanentError when there is none to use."""
    recipient = message.recipient
    if recipient is None or not recipient.email:
        raise PermanentError("no e-mail address for this person any more")
    if not is_mailbox(recipient.email):  # kept from before addresses were checked as they came in
        raise PermanentError("the stored address is not one e-mail address")
    return recipient.email


class MailDelivery:
    in_flight = 1

    def __init__(
        self,
        renderer: Renderer,
        settings: Settings,
        transport: MimeTransport,
        clock: Clock,
        channel: str = CHANNEL,
    ) -> None:
        """`channel`: the sender's name in the outbox, holds and notices ("smtp" for the relay, whose
        outage advice differs from Exchange's "email")."""
        self.renderer, self.settings, self.transport, self.clock = renderer, settings, transport, clock
        self.channel = channel
        self.host = uid_host(settings.public_base_url)

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        return mail_targets(kind, recipients, MAILED)

    def paced_sends(self, kind: str, series: SeriesView, headcount: Headcount) -> list[tuple[Pace, int]]:
        mails = mail_count(kind, headcount, MAILED)
        return [(pace, mails) for pace in self.transport.paces()]

    def pacing(self, target: str) -> list[Pace]:
        return self.transport.paces()

    def send(self, message: OutgoingMessage) -> str | None:
        address = recipient_address(message)
        now = self.clock.now()
        mail = compose(
            self.renderer,
            self.settings,
            message,
            to=address,
            organiser=self.transport.sender,
            host=self.host,
            now=now,
            ics=IcsChoice(invite=True),
        )
        message_id = delivery_message_id(message.key, self.host)
        mime = build_mime(mail, sender=self.transport.sender, message_id=message_id, date=now)
        return self.transport.deliver(mime, to=address, message_id=message_id)

    def find_sent(self, message: OutgoingMessage) -> str | None:
        return self.transport.find(delivery_message_id(message.key, self.host))
