"""Records acked requests in the inbox in groups: one transaction (one disk flush) for all that
arrived meanwhile, written by one thread, so a burst of requests never holds up the threads that ack.

A request that comes after a quiet spell is written at once; during a burst the groups are at least
`spacing` apart (SPACING_SECONDS), so each holds what arrived meanwhile. A group's transaction costs
about 0.8 ms of CPU (a tenth of that per row): written one or two requests at a time, as they came,
the writer took half as much CPU as the acks themselves and competed with them for the interpreter.

A listener hands its request over and returns at once (`submit`). The request was acked already,
so if the database cannot take the group after a few tries it is kept on local disk (`Spool`,
bot/inbox_spool.py) and written once the database answers again; only if that fails too is each
request's `on_failure` called (the channel tells its user). Nothing is left half-written: a group
is one transaction.
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
from sqlalchemy.exc import OperationalError

from bot.clock import Clock
from bot.db import Database, in_runs, insert_ignoring
from bot.error_policy import ErrorPolicy
from bot.inbox_spool import Kept, Spool
from bot.models import InboundRequest

log = logging.getLogger(__name__)

MAX_GROUP = 500
MAX_KEY = 300  # the width of inbound_request.key
TRIES = 3
PAUSE_SECONDS = 0.5
SPACING_SECONDS = 0.02  # between the starts of two groups' writes, while requests keep coming


@dataclass(frozen=True)
class Arrival:
    channel: str
    kind: str
    key: str
    payload: dict[str, Any]
    on_failure: Callable[[], None] | None = None
    seq: int = 0  # its number in the front's handover to the worker process (bot/inbox_handover.py)


class InboxWriter:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        on_recorded: Callable[[], None],
        errors: ErrorPolicy,
        spool: Spool | None = None,
        spacing: float = SPACING_SECONDS,
    ) -> None:
        self.db, self.clock, self.on_recorded, self.errors = db, clock, on_recorded, errors
        self.spool, self.spacing = spool, spacing
        self._kept = False  # this process kept requests in the spool: write them when the database is back
        # A SimpleQueue: a put is one call in C, no lock and condition in Python, in the thread that acks.
        self._queue: queue.SimpleQueue[Arrival | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()  # cuts a wait for the next group short
        self._lock = threading.Lock()
        self._after: Callable[[list[Arrival]], None] | None = None

    def after_each_group(self, handled: Callable[[list[Arrival]], None]) -> None:
        """Call `handled(group)` once each group is dealt with: recorded (or seen before), kept in
        the spool, or its users told it was not recorded."""
        self._after = handled

    def submit(self, arrival: Arrival) -> None:
        self._queue.put(arrival)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._closing = threading.Event()
                    self._thread = threading.Thread(
                        target=self._run, args=(self._closing,), name="inbox-writer", daemon=True
                    )
                    self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            closing = self._closing
        if thread is not None:
            closing.set()
            self._queue.put(None)
            thread.join(timeout=timeout)

    def _run(self, closing: threading.Event) -> None:
        began = float("-inf")  # when the last group's write began
        while True:
            first = self._queue.get()
            # Time for the rest of a burst to join this group (none after a quiet spell).
            if (wait := began + self.spacing - time.monotonic()) > 0:
                closing.wait(wait)
            began = time.monotonic()
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
                if self._after is not None:
                    with self.errors.guard("inbox writer: after a group"):
                        self._after(group)
            if stop:
                return

    def _write(self, group: list[Arrival]) -> None:
        for attempt in range(1, TRIES + 1):
            try:
                recorded = self._insert(group)
                break
            except OperationalError:
                if attempt == TRIES:
                    self._keep(group)
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
        if self._kept:
            self._kept = self.write_kept() is None

    def write_kept(self) -> int | None:
        """Write the spool's requests (this process's and a stopped one's); how many, or None when
        the database still cannot take them."""
        if self.spool is None:
            return 0
        try:
            written = self.spool.drain(self._insert_kept)
        except OperationalError:
            return None
        if written:
            log.warning("inbox: %d request(s) kept while the database was unavailable are recorded", written)
            self.on_recorded()
        return written

    def _insert_kept(self, requests: list[Kept]) -> None:
        arrivals = [Arrival(r["channel"], r["kind"], r["key"], r.get("payload") or {}) for r in requests]
        for start in range(0, len(arrivals), MAX_GROUP):
            self._insert(arrivals[start : start + MAX_GROUP])

    def _keep(self, group: list[Arrival]) -> None:
        """The database cannot take the group: on local disk until it can, or (no spool, or the disk
        failed too) each request's channel tells its user."""
        if self.spool is not None:
            kept = [{"channel": a.channel, "kind": a.kind, "key": a.key, "payload": a.payload} for a in group]
            try:
                self.spool.keep(kept)
            except OSError as exc:
                log.error(
                    "inbox spool %s unusable: %s", self.spool.folder, exc.strerror or type(exc).__name__
                )
            else:
                self._kept = True
                log.warning(
                    "database unavailable: %d request(s) kept in %s, carried out once it answers",
                    len(group),
                    self.spool.folder,
                )
                return
        log.error("database unavailable: %d request(s) not recorded", len(group))
        self._tell(group)

    def _tell(self, group: list[Arrival]) -> None:
        """Each request's channel tells its user the request was not recorded."""
        for arrival in group:
            if arrival.on_failure is not None:
                with self.errors.guard(f"telling {arrival.channel} a request was not recorded"):
                    arrival.on_failure()

    def _insert(self, group: list[Arrival]) -> set[str]:
        """The group in one transaction (its rows in runs: `in_runs`), skipping keys already there;
        returns the keys it recorded."""
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
        with self.db.statements() as conn:
            statement = _INSERT[conn.dialect.name]
            runs = in_runs(list(rows.values()))
            return {key for run in runs for key in conn.execute(statement, run).scalars()}


# One statement, compiled once (executemany; SQLAlchemy writes each run's rows as one multi-row INSERT
# that keeps RETURNING, in few sizes: see `in_runs`): the table, not the mapped class, so no ORM
# bookkeeping.
_TABLE = cast(Table, InboundRequest.__table__)
_INSERT = insert_ignoring(_TABLE, "key", returning=(_TABLE.c.key,))
