"""The organiser mailbox's limits, shared by every process and every kind of mail it sends.

Exchange Online allows about 30 messages a minute and 10,000 recipients a rolling day per mailbox.
The pace is the delivery engine's (`mail:<organiser>` in `pacing_slot`); the day's recipients are a
ledger in `graph_mail_ledger`, filled by reminder mails, meeting invitations and confirmation mails
alike, checked and written under one row lock so two processes cannot both take the last places.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.db import Database
from bot.delivery import pacing
from bot.delivery.channels import Pace
from bot.settings import DeliveryLimits
from handlers.microsoft365.models import GraphMailLedger

DAY = timedelta(days=1)
KEEP = timedelta(days=2)

LEDGER = cast(Table, GraphMailLedger.__table__)
# Built once: `take` runs for every mail, and the day's rows are summed by the database, not read
# back one by one (10,000 rows at the end of a busy day).
_USED = select(func.coalesce(func.sum(LEDGER.c.recipients), 0)).where(LEDGER.c.at > bindparam("since"))
_PRUNE = delete(LEDGER).where(LEDGER.c.at < bindparam("before"))
_ADD = insert(LEDGER).returning(LEDGER.c.id)


class DailyLimitReached(Exception):
    """The mailbox's recipients for the rolling day are used up; places free after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the mailbox's daily recipient limit is reached; room again in {seconds:.0f} s")
        self.seconds = seconds


class Mailbox:
    def __init__(self, db: Database, clock: Clock, organiser: str, limits: DeliveryLimits) -> None:
        self.db, self.clock, self.limits = db, clock, limits
        self.pace = Pace(f"mail:{organiser.lower()}", timedelta(seconds=60 / limits.mail_rate_per_minute))
        self._lock_key = Pace(f"mail-day:{organiser.lower()}", timedelta(0))

    def take(self, recipients: int, purpose: str) -> int:
        """Count `recipients` against the day; returns the ledger row id. Raises DailyLimitReached."""
        now = self.clock.now()
        with self.db.transaction() as s:
            pacing.push_back(s, [self._lock_key], now)  # the row lock that serialises the check
            wait = self._wait(s, recipients, now)
            if wait is not None:
                raise DailyLimitReached(wait)
            s.execute(_PRUNE, {"before": now - KEEP})
            added = s.execute(_ADD, {"at": now, "recipients": recipients, "purpose": purpose})
            return int(added.scalar_one())

    def refund(self, ledger_id: int) -> None:
        """The mail did not go out (throttled, refused): its recipients do not count."""
        with self.db.transaction() as s:
            s.execute(delete(GraphMailLedger).where(GraphMailLedger.id == ledger_id))

    def wait_for_slot(self, recipients: int, purpose: str) -> int:
        """Outside the delivery engine (meetings, confirmation mails): keep the shared pace, then count."""
        with self.db.transaction() as s:
            slot = pacing.reserve(s, [self.pace], self.clock.now())
        self.clock.sleep((slot - self.clock.now()).total_seconds())
        return self.take(recipients, purpose)

    def used_today(self) -> int:
        with self.db.read() as s:
            return int(s.execute(_USED, {"since": self.clock.now() - DAY}).scalar_one())

    def _wait(self, s: Session, recipients: int, now: datetime) -> float | None:
        """None when `recipients` fit in the rolling day, else the seconds until enough places free."""
        cap = self.limits.mail_daily_recipients
        excess = int(s.execute(_USED, {"since": now - DAY}).scalar_one()) + recipients - cap
        if excess <= 0:
            return None
        rows = s.execute(
            select(GraphMailLedger.at, GraphMailLedger.recipients)
            .where(GraphMailLedger.at > now - DAY)
            .order_by(GraphMailLedger.at)
        ).all()
        freed = 0
        for at, n in rows:
            freed += n
            if freed >= excess:
                return max(1.0, (at + DAY - now).total_seconds())
        return DAY.total_seconds()
