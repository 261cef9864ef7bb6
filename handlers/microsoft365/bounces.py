"""Bounces of Exchange mail: the organiser mailbox's inbox, read by Graph's delta query
(`mailFolders/inbox/messages/delta`, new messages only, a few fields each), and the MIME of each
message that comes from a mail system (`/messages/{id}/$value`: Exchange Online's non-delivery
reports from «Microsoft Outlook» <MicrosoftExchange…@…>, a postmaster's or a MAILER-DAEMON's
report). Nothing in the mailbox is changed: it is a person's mailbox too. The delta link is kept
in the database (graph_cursor), so a restart reads on from where the last read stopped.

Needs the application permission Mail.Read. Throttling and outages are waited out and retried by
the client; what still fails is shown as a problem of the Microsoft 365 channel (`teams status`,
/healthz) and read again at the next run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from bot.bounce_source import ReturnedMail
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.delta import RESYNC_CODES, Cursors
from handlers.microsoft365.errors import GraphError, Health

log = logging.getLogger(__name__)

PERMISSION = "Mail.Read"
AREA = "bounces"
# Who sends delivery reports: Exchange Online's «Microsoft Outlook» system mailbox, postmasters and
# mailer daemons. Other mail in the inbox (people's replies) is never downloaded.
REPORTERS = re.compile(r"^(microsoftexchange[0-9a-f]*|postmaster|mailer-daemon)@", re.IGNORECASE)
SELECT = "subject,from,internetMessageId"


class GraphBounces:
    name = "microsoft365"

    def __init__(self, client: GraphClient, cursors: Cursors, mailbox: str, health: Health) -> None:
        self.client, self.cursors, self.health = client, cursors, health
        self.user_path = f"/users/{segment(mailbox)}"
        self.cursor = f"bounces:{mailbox.lower()}"

    def read(self, handle: Callable[[ReturnedMail], None]) -> int:
        try:
            handed = self._read(handle)
        except GraphError as exc:
            if exc.status == 410 or any(code in (exc.code or "").lower() for code in RESYNC_CODES):
                log.warning("bounces: the inbox's delta link expired; reading the inbox afresh next time")
                self.cursors.expire(self.cursor)
                return 0
            self.health.report(AREA, f"reading the organiser mailbox's inbox: {exc}")
            return 0
        self.health.clear(AREA)
        return handed

    def _read(self, handle: Callable[[ReturnedMail], None]) -> int:
        stored = self.cursors.get(self.cursor)
        now = self.client.clock.now()
        if stored is not None and stored.value:
            start, params = stored.value, None
        else:
            start = f"{self.user_path}/mailFolders/inbox/messages/delta"
            params = {"changeType": "created", "$select": SELECT}
        handed = 0
        for page in self.client.pages(start, auth=Auth.APP, permission=PERMISSION, params=params):
            for item in page.get("value", []):
                if isinstance(item, dict) and _reported(item):
                    handle(ReturnedMail(_ref(item), self._mime(str(item["id"]))))
                    handed += 1
            link = page.get("@odata.deltaLink")
            if isinstance(link, str):
                self.cursors.put(self.cursor, link, stored.watching_since if stored else now)
        return handed

    def _mime(self, message_id: str) -> bytes:
        return self.client.call(
            "GET",
            f"{self.user_path}/messages/{segment(message_id)}/$value",
            auth=Auth.APP,
            permission=PERMISSION,
        ).content


def _reported(item: dict[str, Any]) -> bool:
    """A new message from a mail system (not a removal, not a person's mail)."""
    if "@removed" in item or not item.get("id"):
        return False
    sender = ((item.get("from") or {}).get("emailAddress") or {}).get("address") or ""
    return bool(REPORTERS.match(str(sender)))


def _ref(item: dict[str, Any]) -> str:
    """The report's Internet Message-ID (the same however often it is read), else Graph's id."""
    found = item.get("internetMessageId")
    return f"mid:{found}"[:250] if isinstance(found, str) and found else f"graph:{item['id']}"[:250]
