"""The mail channel ("email") for the delivery engine: reminders and follow-ups to each subscriber
with an address, notices to organisers, sent from the organiser mailbox through Graph.

The invitation, a change of time and a cancellation are not mailed here: the Teams meeting is the
invitation, and Exchange itself tells its attendees (every subscriber with an address) when the
meeting moves or is cancelled (see calendar_sync). Mailing them too would say everything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from bot.addresses import ascii_mailbox, is_mailbox
from bot.clock import Clock
from bot.delivery import kinds
from bot.delivery.batches import batch_count, batch_targets, is_batch
from bot.delivery.channels import (
    DailyCap,
    Headcount,
    NotSent,
    OutgoingMessage,
    Pace,
    PermanentError,
    Recipient,
    RetryLater,
    Target,
    TransientError,
)
from bot.mail_compose import compose, delivery_message_id
from bot.mail_delivery import mail_count, mail_targets, recipient_address
from bot.mail_mime import IcsChoice, build_mime
from bot.rendering import Renderer
from bot.settings import Settings
from bot.tokens import leave_url
from bot.views import SeriesView
from handlers.microsoft365.errors import (
    GraphAuthError,
    GraphError,
    GraphThrottled,
    GraphUnavailable,
    Health,
    paused_by,
)
from handlers.microsoft365.mail import MailApi
from handlers.microsoft365.mailbox import DailyLimitReached, Mailbox
from handlers.microsoft365.meeting_parts import EnsureMeeting, with_join_link

log = logging.getLogger(__name__)

MAILED = frozenset({kinds.REMINDER, kinds.FOLLOWUP}) | kinds.ORGANISERS
# What counts against the mailbox's day, planned ahead: the meeting invitation Exchange mails to
# every subscriber with an address, and the reminders and follow-up mailed here.
COUNTED = frozenset({kinds.INVITATION, kinds.REMINDER, kinds.FOLLOWUP})
# With MAIL_BATCH=bcc these go in batches (bot/delivery/batches.py); notices to organisers do not.
BATCHED = frozenset({kinds.REMINDER, kinds.FOLLOWUP})


class MailSender:
    channel = "email"
    # Exchange allows 30 a minute, but one sendMail can take a second or two: with two at once the
    # pace holds while one is slow, or while the worker is busy with a Slack fan-out (the bench saw
    # 16 of 20 a second with one, scaled ×40). The pacing, not this, keeps to the limit.
    in_flight = 2

    def __init__(
        self,
        renderer: Renderer,
        settings: Settings,
        organiser: str,
        api: MailApi,
        mailbox: Mailbox,
        clock: Clock,
        health: Health,
        host: str,
        ensure_meeting: EnsureMeeting | None = None,
        ics_of: Callable[[int, int], IcsChoice] | None = None,
    ) -> None:
        self.renderer, self.settings, self.organiser, self.api = renderer, settings, organiser, api
        self.mailbox, self.clock, self.health, self.host = mailbox, clock, health, host
        self.ensure_meeting, self.ics_of = ensure_meeting, ics_of
        self.daily_cap = DailyCap(mailbox.pace.key, settings.limits.mail_daily_recipients)

    def daily_load(self, kind: str, series: SeriesView, headcount: Headcount) -> int:
        return mail_count(kind, headcount, COUNTED)

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        if self._batched(kind):
            return batch_targets(recipients, self._batch_most())
        return mail_targets(kind, recipients, MAILED)

    def paced_sends(self, kind: str, series: SeriesView, headcount: Headcount) -> list[tuple[Pace, int]]:
        if self._batched(kind):
            return [(self.mailbox.pace, batch_count(headcount, self._batch_most()))]
        return [(self.mailbox.pace, mail_count(kind, headcount, MAILED))]

    def _batched(self, kind: str) -> bool:
        return self.settings.limits.mail_batch == "bcc" and kind in BATCHED

    def _batch_most(self) -> int:
        """People in one batch: To: is the mailbox itself, which Exchange counts among the message's
        recipients too."""
        return self.settings.limits.mail_max_recipients - 1

    def pacing(self, target: str) -> list[Pace]:
        return [self.mailbox.pace]

    def send(self, message: OutgoingMessage) -> str | None:
        if is_batch(message.target):
            return self._send_batch(message)
        address = recipient_address(message)
        message_id = delivery_message_id(message.key, self.host)
        message = with_join_link(message, self.ensure_meeting)
        now = self.clock.now()
        ics = IcsChoice()
        if self.ics_of is not None and message.session is not None and message.recipient is not None:
            ics = self.ics_of(message.session.id, message.recipient.person_id)
        mail = compose(
            self.renderer,
            self.settings,
            message,
            to=address,
            organiser=self.organiser,
            host=self.host,
            now=now,
            ics=ics,
        )
        mime = build_mime(mail, sender=self.api.sender, message_id=message_id, date=now)
        self._submit(mime, 1)
        return message_id

    def _send_batch(self, message: OutgoingMessage) -> str | None:
        """One mail to the batch's people in Bcc, addressed To the mailbox itself (nobody sees the
        others); no .ics: everyone in it with an address is an attendee of the Exchange meeting."""
        addresses = [ascii_mailbox(r.email) for r in message.batch if r.email and is_mailbox(r.email)]
        if not addresses:
            raise NotSent("nobody in this batch can be mailed any more")
        if len(addresses) + 1 > self.settings.limits.mail_max_recipients:
            raise PermanentError(f"{len(addresses)} recipients, over MAIL_MAX_RECIPIENTS")
        message_id = delivery_message_id(message.key, self.host)
        message = with_join_link(message, self.ensure_meeting)
        now = self.clock.now()
        mail = compose(
            self.renderer,
            self.settings,
            message,
            to=self.organiser,
            organiser=self.organiser,
            host=self.host,
            now=now,
            ics=IcsChoice(include=False),
            list_wide=leave_url(self.settings, message.series.slug) or self.settings.public_base_url,
        )
        mime = build_mime(mail, sender=self.api.sender, message_id=message_id, date=now, bcc=addresses)
        self._submit(mime, len(addresses))
        return message_id

    def _submit(self, mime: bytes, recipients: int) -> None:
        """Count `recipients` against the mailbox's day, then hand the mail to Exchange once."""
        try:
            ledger = self.mailbox.take(recipients, "mail")
        except DailyLimitReached as exc:
            raise RetryLater(exc.seconds, str(exc)) from exc
        try:
            self.api.send_mime(mime, retry=False)
        except GraphThrottled as exc:
            if not exc.in_doubt:  # a 503 may come after Exchange took the mail: Sent Items tells
                self.mailbox.refund(ledger)
            raise RetryLater(exc.retry_after, str(exc), in_doubt=exc.in_doubt) from exc
        except GraphUnavailable as exc:
            if not exc.in_doubt:
                self.mailbox.refund(ledger)
            raise TransientError(str(exc), in_doubt=exc.in_doubt) from exc
        except GraphAuthError as exc:  # refused credentials or consent stop every mail: mail pauses
            self.mailbox.refund(ledger)
            self.health.report("mail", str(exc))  # for `teams status`, until a mail gets through
            raise paused_by(exc) from exc
        except GraphError as exc:
            self.mailbox.refund(ledger)
            raise PermanentError(str(exc)) from exc
        self.health.clear("mail")

    def find_sent(self, message: OutgoingMessage) -> str | None:
        """Look in Sent Items for the Message-ID this delivery was sent with."""
        message_id = delivery_message_id(message.key, self.host)
        try:
            return message_id if self.api.find_sent(message_id) else None
        except GraphError as exc:
            log.warning("mail: cannot check Sent Items (%s); the mail in doubt is sent again", exc)
            return None
