"""The web's confirmation mails, sent by the delivery engine: a form queues one in the outbox
(confirmations.py) and answers at once; this sender renders it when its turn comes and hands it to
the mail transport, which keeps its own pace (the Exchange mailbox's slots). A transport that is
down delays the mail, retried with back-off, instead of failing the page.

A mail transport cannot be asked whether a mail went out, so a send whose outcome is in doubt (a
crash mid-send) is sent again, noted in the row: a second copy of a confirmation link is harmless.
A link that has expired before its turn is not sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core import Core
from bot.delivery import kinds
from bot.delivery.channels import (
    Headcount,
    NotSent,
    OutgoingMessage,
    Pace,
    PermanentError,
    Recipient,
    Target,
    TransientError,
    Unverifiable,
)
from bot.error_policy import describe
from bot.mail import Mailer, MailFailed
from bot.views import SeriesView
from handlers.web.mails import confirmation_mail

CHANNEL = "web-mail"


def confirmation_payload(
    template: str,
    link: str,
    valid_until: datetime,
    timezone: str,
    *,
    series: bool,
    data: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """What the outbox keeps of a confirmation mail until it is sent (the address is the row's
    target): the template, the link, and what the text says about them (`data`: who invited a
    colleague)."""
    return {
        "template": template,
        "link": link,
        "valid_until": valid_until.isoformat(),
        "timezone": timezone,
        "series": series,
        "data": data or {},
    }


class ConfirmationMailSender:
    channel = CHANNEL
    in_flight = 1

    def __init__(self, core: Core, mailer: Mailer) -> None:
        self.core, self.mailer = core, mailer

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        return []  # never part of a fan-out: each mail is queued on its own

    def paced_sends(self, kind: str, series: SeriesView, headcount: Headcount) -> list[tuple[Pace, int]]:
        return []  # never part of a fan-out

    def pacing(self, target: str) -> list[Pace]:
        return []  # the transport keeps the mailbox's pace itself

    def find_sent(self, message: OutgoingMessage) -> str | None:
        raise Unverifiable("a mail transport cannot say whether a mail went out")

    def send(self, message: OutgoingMessage) -> str | None:
        payload = message.payload
        if message.kind != kinds.CONFIRMATION or not isinstance(payload.get("link"), str):
            raise PermanentError(f"not a confirmation mail: {message.kind}")
        valid_until = datetime.fromisoformat(str(payload["valid_until"]))
        if valid_until <= self.core.clock.now():
            raise NotSent("the link in it has expired")
        mail = confirmation_mail(
            self.core.renderer,
            str(payload["template"]),
            message.target,
            link=payload["link"],
            valid_until=valid_until,
            language=message.language,
            timezone=str(payload["timezone"]),
            data={
                **dict(payload.get("data") or {}),
                "series": message.series if payload.get("series") else None,
            },
        )
        try:
            self.mailer.send(mail)
        except MailFailed as exc:
            raise TransientError(f"mail not sent: {describe(exc)}") from exc
        return None
