"""Inbound requests: a channel acknowledges at once and records the request here; the inbox worker
carries it out, in this process or in the worker process (see `bot/runtime.py`).

Why: Slack wants an answer within 3 s and counts a slow one as failed. Acking first and doing the
work elsewhere keeps the ack as cheap as a bare Bolt app's, whatever the load, and a request that
was acked is kept in the database until it is carried out, so a crash after the ack loses nothing.

States: new → working (a worker claimed it) → executed (its command committed, in the same
transaction as the command) → done | failed. A worker that dies leaves `working` (the command did not
commit: carried out again) or `executed` (it did: only the answer may be lost; never repeated).
The `key` (the platform's id for the request) is unique, so a retry or a replay is recognised; a
finished row keeps its key, without payload, for a day.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.db import Database
from bot.dispatch import Abandon
from bot.inbox_writer import Arrival, InboxWriter
from bot.models import InboundRequest

log = logging.getLogger(__name__)

NEW, WORKING, EXECUTED, DONE, FAILED = "new", "working", "executed", "done", "failed"
# How long a claim holds without the worker finishing; a Slack call with all its retries fits in it.
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(seconds=5)
KEEP = timedelta(days=1)
POLL_SECONDS = 1.0  # a look at the table when not nudged (another process may have added work)
UPKEEP_EVERY = timedelta(seconds=30)
PRUNE_EVERY = timedelta(hours=1)

# The work for one kind of request: its payload, and `executed`, to be run inside the transaction
# that carries out the request's command (`Dispatcher.execute(..., within=executed)`).
Executed = Callable[[Session], None]
Work = Callable[[dict[str, Any], Executed], None]


class ClaimLost(Exception):
    """This worker's claim on a request expired and another took it: roll back, answer nothing."""


@dataclass(frozen=True)
class Item:
    id: int
    channel: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    claim: str  # this worker's claim on it: checked when its command commits

    @property
    def work_name(self) -> str:
        return f"{self.channel}.{self.kind}"


class Inbox:
    """The table of inbound requests, and who to nudge when one arrives."""

    def __init__(self, db: Database, clock: Clock, lease: timedelta = LEASE) -> None:
        self.db, self.clock, self.lease = db, clock, lease
        self._nudges: list[Callable[[], None]] = []
        self._claims = itertools.count(1)
        self.writer = InboxWriter(db, clock, self.nudge)

    # --- the acking side ----------------------------------------------------------------------------

    def accept(self, channel: str, kind: str, key: str, payload: dict[str, Any]) -> bool:
        """Record a request to carry out; False when its key was seen before (a retry or a replay).
        Raises sqlalchemy's OperationalError when the database is unavailable."""
        if not self._insert(channel, kind, key, payload, NEW):
            return False
        self.nudge()
        return True

    def submit(
        self,
        channel: str,
        kind: str,
        key: str,
        payload: dict[str, Any],
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        """Record a request in the next group write and return at once (for the threads that ack);
        a key seen before is ignored; `on_failure` is called if the database cannot take it."""
        self.writer.submit(Arrival(channel, kind, key, payload, on_failure))

    def close(self) -> None:
        """Write the requests still queued (at shutdown)."""
        self.writer.close()

    def record(self, channel: str, kind: str, key: str) -> bool:
        """A request carried out on the spot (e.g. a form whose answer is the ack): only its key is
        kept, as a guard against replays. False when seen before."""
        return self._insert(channel, kind, key, None, DONE)

    def on_arrival(self, nudge: Callable[[], None]) -> None:
        """Call `nudge` whenever a request is recorded (wakes a worker here or in another process)."""
        self._nudges.append(nudge)

    def nudge(self) -> None:
        for nudge in self._nudges:
            try:
                nudge()
            except Exception:  # a nudge is a hint; the workers also look on their own
                log.debug("inbox nudge failed", exc_info=True)

    def _insert(self, channel: str, kind: str, key: str, payload: dict[str, Any] | None, state: str) -> bool:
        now = self.clock.now()
        row = {
            "key": key[:200],
            "channel": channel,
            "kind": kind,
            "payload": payload,
            "state": state,
            "received_at": now,
            "attempts": 0,
            "finished_at": now if state == DONE else None,
        }
        try:
            with self.db.transaction() as s:
                s.execute(insert(InboundRequest), [row])
        except IntegrityError:
            log.info("%s request %s seen before: ignored", channel, key.split(":", 1)[0])
            return False
        return True

    # --- the working side ---------------------------------------------------------------------------

    def claim(self, worker: str, limit: int = 1) -> list[Item]:
        """Take up to `limit` new requests, oldest first. One UPDATE, so that on SQLite it takes the
        write lock before it reads (two claimers wait for each other instead of failing), and on
        PostgreSQL claimers skip each other's rows."""
        now = self.clock.now()
        token = f"{worker}/{next(self._claims)}"[:60]
        with self.db.transaction() as s:
            oldest = (
                select(InboundRequest.id)
                .where(
                    InboundRequest.state == NEW,
                    (InboundRequest.lease_until.is_(None)) | (InboundRequest.lease_until <= now),
                )
                .order_by(InboundRequest.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            taken = s.execute(
                update(InboundRequest)
                .where(InboundRequest.id.in_(oldest), InboundRequest.state == NEW)
                .values(
                    state=WORKING,
                    claimed_by=token,
                    lease_until=now + self.lease,
                    attempts=InboundRequest.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if not _rows(taken):
                return []
            rows = s.execute(
                select(
                    InboundRequest.id,
                    InboundRequest.channel,
                    InboundRequest.kind,
                    InboundRequest.payload,
                    InboundRequest.attempts,
                )
                .where(InboundRequest.claimed_by == token, InboundRequest.state == WORKING)
                .order_by(InboundRequest.id)
            ).all()
        return [Item(r.id, r.channel, r.kind, dict(r.payload or {}), r.attempts, token) for r in rows]

    def executed_marker(self, item: Item) -> Executed:
        """For the command's transaction: marks the request executed, or raises ClaimLost (which
        rolls the command back) when this worker no longer holds it."""

        def executed(s: Session) -> None:
            marked = s.execute(
                update(InboundRequest)
                .where(
                    InboundRequest.id == item.id,
                    InboundRequest.state == WORKING,
                    InboundRequest.claimed_by == item.claim,
                )
                .values(state=EXECUTED)
                .execution_options(synchronize_session=False)
            )
            if not _rows(marked):
                raise ClaimLost(f"inbound request {item.id}")

        return executed

    def done(self, item: Item) -> None:
        self._finish(item, DONE, None)

    def failed(self, item: Item, error: str) -> None:
        self._finish(item, FAILED, error)

    def retry(self, item: Item, error: str) -> str:
        """A failure a later attempt may not have (the database hiccuped): again in a few seconds,
        failed after MAX_ATTEMPTS. Returns the new state."""
        if item.attempts >= MAX_ATTEMPTS:
            self.failed(item, f"gave up after {item.attempts} attempts: {error}")
            return FAILED
        now = self.clock.now()
        with self.db.transaction() as s:
            s.execute(
                update(InboundRequest)
                .where(InboundRequest.id == item.id, InboundRequest.claimed_by == item.claim)
                .values(state=NEW, claimed_by=None, lease_until=now + RETRY_AFTER, error=error[:300])
                .execution_options(synchronize_session=False)
            )
        return NEW

    def _finish(self, item: Item, state: str, error: str | None) -> None:
        now = self.clock.now()
        with self.db.transaction() as s:
            s.execute(
                update(InboundRequest)
                .where(
                    InboundRequest.id == item.id,
                    InboundRequest.state.in_((WORKING, EXECUTED)),
                    InboundRequest.claimed_by == item.claim,
                )
                .values(
                    state=state,
                    payload=None,
                    claimed_by=None,
                    lease_until=None,
                    finished_at=now,
                    error=None if error is None else error[:300],
                )
                .execution_options(synchronize_session=False)
            )

    def recover(self) -> tuple[int, int]:
        """Requests whose worker died: `working` ones are carried out again (their command did not
        commit); `executed` ones are finished (it did; the answer may be lost). Returns the counts."""
        now = self.clock.now()
        expired = (InboundRequest.lease_until.is_not(None), InboundRequest.lease_until < now)
        with self.db.transaction() as s:
            again = _rows(
                s.execute(
                    update(InboundRequest)
                    .where(InboundRequest.state == WORKING, *expired)
                    .values(state=NEW, claimed_by=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )
            )
            closed = _rows(
                s.execute(
                    update(InboundRequest)
                    .where(InboundRequest.state == EXECUTED, *expired)
                    .values(state=DONE, payload=None, claimed_by=None, lease_until=None, finished_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
        if again or closed:
            log.warning(
                "inbox: %d request(s) of a stopped worker taken up again, %d closed (answer maybe lost)",
                again,
                closed,
            )
        return again, closed

    def prune(self) -> int:
        """Forget finished requests older than a day (Slack retries within minutes). Returns how many."""
        cutoff = self.clock.now() - KEEP
        with self.db.transaction() as s:
            result = s.execute(
                delete(InboundRequest).where(
                    InboundRequest.state.in_((DONE, FAILED)), InboundRequest.received_at < cutoff
                )
            )
        return _rows(result)

    def waiting(self) -> int:
        """How many requests wait to be carried out (operators, tests)."""
        with self.db.read() as s:
            return int(
                s.scalar(select(func.count()).select_from(InboundRequest).where(InboundRequest.state == NEW))
                or 0
            )


class InboxWorker:
    """Threads that carry out inbound requests with the work each channel registered.

    A nudge (`wake`) brings a waiting thread at once; without one, each looks every POLL_SECONDS, so
    requests recorded by another process are found too.
    """

    def __init__(self, inbox: Inbox, work: Mapping[str, Work], *, threads: int = 4) -> None:
        self.inbox, self.work = inbox, dict(work)
        self.name = f"inbox-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.threads = threads
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._upkeep_lock = threading.Lock()
        self._upkept_at: datetime | None = None
        self._pruned_at: datetime | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> InboxWorker:
        for number in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"{self.name}-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads.clear()

    def run_once(self) -> int:
        """Carry out what waits now, in this thread (tests, console); returns how many."""
        self._upkeep(force=True)
        count = 0
        while items := self.inbox.claim(self.name):
            for item in items:
                self.handle(item)
                count += 1
        return count

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self._wake.clear()
                self._upkeep()
                items = self.inbox.claim(self.name)
                if not items:
                    self._wake.wait(POLL_SECONDS)
                    continue
                self._wake.set()  # there may be more: let a sibling look while this one works
                for item in items:
                    self.handle(item)
            except Exception:  # the database hiccuped: never end the thread
                log.exception("inbox worker: a pass failed; trying again shortly")
                self.stopping.wait(POLL_SECONDS)

    def handle(self, item: Item) -> None:
        work = self.work.get(item.work_name)
        if work is None:
            log.error("inbox: no work registered for %s (request %s)", item.work_name, item.id)
            self.inbox.failed(item, f"no work registered for {item.work_name}")
            return
        try:
            work(item.payload, self.inbox.executed_marker(item))
        except (ClaimLost, Abandon):
            log.warning("inbox: request %s was taken over by another worker", item.id)
            return
        except Exception as exc:
            state = self.inbox.retry(item, f"{type(exc).__name__}: {exc}")
            log.exception("inbox: %s request %s failed (%s)", item.work_name, item.id, state)
            return
        self.inbox.done(item)

    def _upkeep(self, *, force: bool = False) -> None:
        """Now and then: take up the requests of stopped workers, forget old ones."""
        now = self.inbox.clock.now()
        if not self._upkeep_lock.acquire(blocking=False):
            return
        try:
            if force or self._upkept_at is None or now - self._upkept_at >= UPKEEP_EVERY:
                self._upkept_at = now
                self.inbox.recover()
            if force or self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = now
                self.inbox.prune()
        finally:
            self._upkeep_lock.release()


def _rows(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)
