"""Records acked requests in the inbox in groups: one transaction (one disk flush) for all that
arrived meanwhile, written by one thread, so a burst of requests never holds up the threads that ack.

A listener hands its request over and returns at once (`submit`). If the database cannot take the
group after a few tries, each request's `on_failure` is called (the channel tells its user), and
nothing is left half-written: a group is one transaction.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from bot.clock import Clock
from bot.db import Database
from bot.error_policy import ErrorPolicy
from bot.models import InboundRequest

log = logging.getLogger(__name__)

MAX_GROUP = 500
MAX_KEY = 300  # the width of inbound_request.key
TRIES = 3
PAUSE_SECONDS = 0.5


@dataclass(frozen=True)
class Arrival:
    channel: str
    kind: str
    key: str
    payload: dict[str, Any]
    on_failure: Callable[[], None] | None = None


class InboxWriter:
    def __init__(
        self, db: Database, clock: Clock, on_recorded: Callable[[], None], errors: ErrorPolicy
    ) -> None:
        self.db, self.clock, self.on_recorded, self.errors = db, clock, on_recorded, errors
        self._queue: queue.Queue[Arrival | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, arrival: Arrival) -> None:
        self._queue.put(arrival)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
                    self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            group: list[Arrival] = []
            stop = first is None
            if first is not None:
                group.append(first)
            while len(group) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    continue
                group.append(more)
            if group:
                self._write(group)
            if stop:
                return

    def _write(self, group: list[Arrival]) -> None:
        for attempt in range(1, TRIES + 1):
            try:
                recorded = self._insert(group)
                break
            except OperationalError:
                if attempt == TRIES:
                    log.error("database unavailable: %d request(s) not recorded", len(group))
                    self._tell(group)
                    return
                time.sleep(PAUSE_SECONDS * attempt)
            except Exception as exc:  # never lose the thread, whatever the group held
                self.errors.unexpected("inbox writer", exc, requests=len(group))
                self._tell(group)
                return
        for arrival in group:
            if arrival.key[:MAX_KEY] not in recorded:
                log.info("%s request %s seen before: ignored", arrival.channel, arrival.key.split(":", 1)[0])
        if recorded:
            self.on_recorded()

    def _tell(self, group: list[Arrival]) -> None:
        """Each request's channel tells its user the request was not recorded."""
        for arrival in group:
            if arrival.on_failure is not None:
                with self.errors.guard(f"telling {arrival.channel} a request was not recorded"):
                    arrival.on_failure()

    def _insert(self, group: list[Arrival]) -> set[str]:
        """One INSERT for the group, skipping keys already there; returns the keys it recorded."""
        now = self.clock.now()
        rows: dict[str, dict[str, Any]] = {}
        for arrival in group:
            key = arrival.key[:MAX_KEY]
            rows.setdefault(
                key,
                {
                    "key": key,
                    "channel": arrival.channel,
                    "kind": arrival.kind,
                    "payload": arrival.payload,
                    "state": "new",
                    "received_at": now,
                    "attempts": 0,
                },
            )
        with self.db.transaction() as s:
            statement = _INSERT[s.get_bind().dialect.name]
            return set(s.scalars(statement, list(rows.values())))


# One statement, compiled once, for a group of any size (executemany; SQLAlchemy batches the rows
# into multi-row INSERTs that keep RETURNING): the table, not the mapped class, so no ORM bookkeeping.
_TABLE = cast(Table, InboundRequest.__table__)
_INSERT = {
    name: insert(_TABLE).on_conflict_do_nothing(index_elements=["key"]).returning(_TABLE.c.key)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
