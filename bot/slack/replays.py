"""Once only: a Slack request is carried out the first time its id is seen.

The Events API retries a delivery (same `event_id`, header `X-Slack-Retry-Num`) when our answer was
late or lost, and a captured request can be replayed within the signature's five minutes. The id
(event id, or the trigger id of a command, click or submission) is stored with a unique key; a second
claim fails. A claim is made after the ack and before the work: at most once, never twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.clock import Clock
from bot.db import Database
from bot.models import ProcessedRequest

log = logging.getLogger(__name__)

KEEP = timedelta(days=1)
PRUNE_EVERY = timedelta(hours=1)
MAX_KEY = 200


def request_key(body: dict[str, Any]) -> str | None:
    """The id that makes a Slack request unique: its event id, else its trigger id (+ the action)."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    trigger = body.get("trigger_id")
    if not trigger:
        return None
    kind = body.get("type") or "command"
    actions = body.get("actions") or []
    action = actions[0].get("action_id", "") if actions else ""
    return f"{kind}:{trigger}:{action}"[:MAX_KEY]


class Replays:
    """Claims request ids in the database, and forgets those older than a day."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        self._pruned_at: datetime | None = None

    def first_time(self, body: dict[str, Any]) -> bool:
        """True when this request has not been carried out before (requests without an id are)."""
        key = request_key(body)
        if key is None:
            return True
        now = self.clock.now()
        try:
            with self.db.transaction() as s:
                s.add(ProcessedRequest(key=key, created_at=now))
        except IntegrityError:
            log.info("Slack request %s seen before: ignored", key.split(":", 1)[0])
            return False
        except OperationalError:
            # The database is down: the dispatcher will say so to the user; better than silence.
            log.warning(
                "database unavailable: Slack request %s not checked for replays", key.split(":", 1)[0]
            )
            return True
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            self.prune()
        return True

    def prune(self) -> int:
        """Remove claims older than a day; returns how many."""
        with self.db.transaction() as s:
            result = s.execute(
                delete(ProcessedRequest).where(ProcessedRequest.created_at < self.clock.now() - KEEP)
            )
        return int(getattr(result, "rowcount", 0) or 0)
