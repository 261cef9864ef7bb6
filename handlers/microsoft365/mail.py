"""Sending mail from the organiser mailbox (`sendMail`, MIME route) and finding a sent one again;
`GraphMailer` is the bot's mail transport for the web pages' confirmation mails, in the same pace
and day count.

A mail in doubt after a crash is looked up in Sent Items by its Message-ID, which the bot makes
from the delivery's key (so the same delivery always has the same id).
"""

from __future__ import annotations

import base64
import uuid

from bot.clock import Clock
from bot.mail import MailFailed, MailMessage
from bot.mail_mime import build_mime
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.errors import GraphError
from handlers.microsoft365.mailbox import DailyLimitReached, Mailbox

PERMISSION = "Mail.Send"
READ_PERMISSION = "Mail.ReadBasic.All"


def graph_body(mime: bytes) -> bytes:
    """What Graph's sendMail takes for MIME: the message base64-encoded, sent as text/plain."""
    return base64.b64encode(mime)


class MailApi:
    def __init__(self, client: GraphClient, sender: str) -> None:
        self.client, self.sender = client, sender
        self.user_path = f"/users/{segment(sender)}"

    def send_mime(self, mime: bytes, *, retry: bool) -> None:
        """Post one MIME mail. `retry`: also repeat after a 5xx or a timeout (a duplicate is harmless)
        and wait out throttling; otherwise such failures come back to the caller at once."""
        self.client.call(
            "POST",
            f"{self.user_path}/sendMail",
            auth=Auth.APP,
            permission=PERMISSION,
            content=graph_body(mime),
            headers={"Content-Type": "text/plain"},
            idempotent=retry,
            wait_when_throttled=retry,
        )

    def find_sent(self, message_id: str) -> str | None:
        """The Graph id of the sent message with this Message-ID, or None."""
        quoted = message_id.replace("'", "''")
        found = self.client.call(
            "GET",
            f"{self.user_path}/mailFolders/SentItems/messages",
            auth=Auth.APP,
            permission=READ_PERMISSION,
            params={"$filter": f"internetMessageId eq '{quoted}'", "$select": "id,internetMessageId"},
        ).object()
        values = found.get("value") or []
        return str(values[0]["id"]) if values else None


class GraphMailer:
    def __init__(self, api: MailApi, mailbox: Mailbox, clock: Clock, host: str) -> None:
        self.api, self.mailbox, self.clock, self.host = api, mailbox, clock, host

    def send(self, message: MailMessage) -> None:
        """Wait for the mailbox's next slot, then send; throttling and 5xx are retried (a duplicate
        confirmation mail is harmless). Raises when the mail cannot go out."""
        try:
            ledger = self.mailbox.wait_for_slot(1, "confirmation")
        except DailyLimitReached as exc:
            raise MailFailed("the organiser mailbox has sent all it may today") from exc
        message_id = f"<{uuid.uuid4().hex}@{self.host}>"
        mime = build_mime(message, sender=self.api.sender, message_id=message_id, date=self.clock.now())
        try:
            self.api.send_mime(mime, retry=True)
        except GraphError as exc:
            self.mailbox.refund(ledger)
            raise MailFailed(str(exc)) from exc
