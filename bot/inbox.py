"""Inbound requests: the one path every channel's commands take, handled once.

A channel records what it received here and the inbox worker carries it out, in this process or in
the worker process (see `bot/entry/runtime.py`): Slack commands, clicks and events right after their
ack; Teams messages read by polling or announced by a change notification. The console and the web
pages, whose user waits for the answer, record their request and carry it out at once in their own
thread (`run_now`), through the same claim, executed mark and failure handling.

Why: Slack wants an answer within 3 s and counts a slow one as failed. Acking first and doing the
work elsewhere keeps the ack as cheap as a bare Bolt app's, whatever the load, and a request that
was acked is kept in the database until it is carried out, so a crash after the ack loses nothing.

States: new → working (a worker claimed it) → executed (its command committed, in the same
transaction as the command) → done | failed. A worker that dies leaves `working` (the command did not
commit: carried out again) or `executed` (it did: only the answer may be lost; never repeated).
The `key` (the platform's id for the request) is unique, so a retry or a replay is recognised; a
finished row keeps its key, without payload, for KEEP, longer than any platform replays.
"""

from __future__ import annotations

import functools
import itertools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.db import Batch, Database
from bot.dispatch import Abandon
from bot.error_policy import ErrorPolicy, describe
from bot.inbox_handover import Handover, HandoverEnds, Receiver, ReceiverEnds
from bot.inbox_spool import Spool
from bot.inbox_writer import Arrival, InboxWriter
from bot.leases import ClaimTokens, LeasedTable, rowcount
from bot.models import InboundRequest

log = logging.getLogger(__name__)
T = TypeVar("T")

NEW, WORKING, EXECUTED, DONE, FAILED = "new", "working", "executed", "done", "failed"
# How long a claim holds without the worker finishing; a Slack call with all its retries fits in it.
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(seconds=5)
# Slack retries within minutes; a Teams message is read again for a day (MAX_AGE in
# handlers/microsoft365/inbound.py): the replay guard outlives both.
KEEP = timedelta(days=3)
MAX_KEY = 300
REQUESTS = LeasedTable(cast(Table, InboundRequest.__table__))
_R = REQUESTS.table.c
# Built once (each command's transaction runs it): a table statement, not an ORM bulk UPDATE, whose
# set-up was a sixth of the CPU left in a command after the dispatcher's own statements.
_MARK_EXECUTED = (
    update(REQUESTS.table)
    .where(_R.id == bindparam("item"), _R.state == WORKING, _R.claimed_by == bindparam("claim"))
    .values(state=EXECUTED)
)
# A claim, built once (see `LeasedTable.prepared_claim`): new requests, oldest first, and those whose
# retry pause (`lease_until`) ran out.
_CLAIM = REQUESTS.prepared_claim(
    waiting=(_R.state == NEW, _R.lease_until.is_(None) | (_R.lease_until <= bindparam("now"))),
    order_by=(_R.id,),
    values={
        "state": WORKING,
        "claimed_by": bindparam("token"),
        "lease_until": bindparam("until"),
        "attempts": _R.attempts + 1,
    },
    returning=(_R.channel, _R.kind, _R.payload, _R.attempts),
)
# The executed marks of a batch's commands, in one statement (`ExecutedMarks`).
_MARK_ALL_EXECUTED = (
    update(REQUESTS.table)
    .where(
        _R.id.in_(bindparam("items", expanding=True)),
        _R.state == WORKING,
        _R.claimed_by == bindparam("claim"),
    )
    .values(state=EXECUTED)
    .returning(_R.id)
)
_FINISH = (
    update(REQUESTS.table)
    .where(
        _R.id.in_(bindparam("items", expanding=True)),
        _R.state.in_((WORKING, EXECUTED)),
        _R.claimed_by == bindparam("claim"),
    )
    .values(
        state=bindparam("state"),
        payload=None,
        claimed_by=None,
        lease_until=None,
        finished_at=bindparam("now"),
        error=bindparam("error"),
    )
)

# The work for one kind of request: its payload, and `executed`, to be run inside the transaction
# that carries out the request's command (`Dispatcher.execute(..., within=executed)`). What it
# returns goes back to `run_now`'s caller (the reply to show); the inbox worker drops it.
Executed = Callable[[Session], None]
Work = Callable[[dict[str, Any], Executed], object]
# Told when a request failed for good: channel, kind, payload (to give the user the generic error).
Apology = Callable[[str, str, dict[str, Any]], None]

# What follows a command once its transaction committed (its answer): never before.
Effect = Callable[[], None]
# A request's command, carried out in `batch` (one unit of that shared transaction, see
# `Dispatcher.execute`) or, with None, in a transaction of its own; marks the request executed
# within it and returns what is to follow the commit.
Step = Callable[[Batch | None, Executed], Effect]


@dataclass(frozen=True)
class Batchable:
    """Work whose command may share one transaction with the other requests of a claim (the inbox
    worker's batch): `prepare` does, before any transaction, what may wait on the network (who the
    user is) and gives the request's `Step`, or None for a request that takes `otherwise` (a form).
    Called as ordinary `Work`, it carries the request out in a transaction of its own."""

    prepare: Callable[[dict[str, Any]], Step | None]
    otherwise: Work

    def __call__(self, payload: dict[str, Any], executed: Executed) -> object:
        step = self.prepare(payload)
        if step is None:
            return self.otherwise(payload, executed)
        step(None, executed)()
        return None


class ExecutedMarks:
    """The executed marks of the commands of one batch (the inbox worker's), written together in
    one statement at the end of the batch's transaction instead of one in each command: their
    `marker` only notes a command that succeeded. Before the commit, `write` marks their requests;
    one whose claim this worker lost is not marked, and the batch must then roll back (see
    `write`), so a command never commits without its mark."""

    def __init__(self) -> None:
        self._items: dict[int, Item] = {}

    def marker(self, item: Item) -> Executed:
        def executed(_s: Session) -> None:
            self._items[item.id] = item

        return executed

    def __contains__(self, item: Item) -> bool:
        return item.id in self._items

    def write(self, batch: Batch) -> list[Item]:
        """Mark the noted requests executed, in the batch's transaction; returns those whose claim
        was lost (another worker took them over): nothing of the batch may then commit."""
        by_claim: dict[str, list[int]] = {}
        for item in self._items.values():
            by_claim.setdefault(item.claim, []).append(item.id)
        marked: set[int] = set()
        for claim, ids in by_claim.items():
            marked.update(batch.conn.execute(_MARK_ALL_EXECUTED, {"items": ids, "claim": claim}).scalars())
        return [item for item in self._items.values() if item.id not in marked]


class ClaimLost(Exception):
    """This worker's claim on a request expired and another took it: roll back, answer nothing."""


class RequestFailed(Exception):
    """A request carried out by `run_now` failed unexpectedly (already reported by the error policy)."""


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


def fresh_key(channel: str) -> str:
    """A key for a request the platform gave no id (never taken for a replay)."""
    return f"{channel}:unkeyed:{uuid.uuid4().hex}"


class Inbox:
    """The table of inbound requests, and who to nudge when one arrives."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        errors: ErrorPolicy,
        lease: timedelta = LEASE,
        spool: Spool | None = None,
    ) -> None:
        self.db, self.clock, self.errors, self.lease = db, clock, errors, lease
        self._nudges: list[Callable[[], None]] = []
        self._tokens = ClaimTokens("inbox-now")
        self._claims = itertools.count(1)
        self.writer = InboxWriter(db, clock, self.nudge, errors, spool)
        self._unrecorded: dict[str, Callable[[str, dict[str, Any]], None]] = {}
        self._handover: Handover | None = None  # the front's, with a worker process
        self._receiver: Receiver | None = None  # the worker process's

    def when_unrecorded(self, channel: str, tell: Callable[[str, dict[str, Any]], None]) -> None:
        """How `channel` tells its user that a submitted request (`kind`, `payload`) could not be
        recorded; registered before the fork, so that either process can."""
        self._unrecorded[channel] = tell

    def hand_over(self, ends: HandoverEnds) -> None:
        """In the front: submitted requests go to the worker process, which records them
        (bot/inbox_handover.py)."""
        self._handover = Handover(ends, self.writer)

    def finish_handover(self) -> None:
        """In the front, once no request can come any more: the worker process gets the last ones."""
        if self._handover is not None:
            self._handover.finish()

    def receive(self, ends: ReceiverEnds) -> Receiver:
        """In the worker process: record what the front hands over, confirming each group."""
        self._receiver = Receiver(ends, self._take_handed)
        self.writer.after_each_group(self._receiver.confirm)
        self._receiver.start()
        return self._receiver

    # --- the receiving side -------------------------------------------------------------------------

    def accept(self, channel: str, kind: str, key: str, payload: dict[str, Any]) -> bool:
        """Record a request to carry out; False when its key was seen before (a retry or a replay).
        Raises sqlalchemy's OperationalError when the database is unavailable."""
        if self._insert(channel, kind, key, payload, NEW) is None:
            return False
        self.nudge()
        return True

    def submit(
        self,
        channel: str,
        kind: str,
        key: str,
        payload: dict[str, Any],
    ) -> None:
        """Record a request in the next group write and return at once (for the threads that ack);
        a key seen before is ignored; the channel's `when_unrecorded` is called if the database
        cannot take it. With a worker process, that process records it."""
        arrival = self._arrival(channel, kind, key, payload)
        (self._handover or self.writer).submit(arrival)

    def _take_handed(self, seq: int, channel: str, kind: str, key: str, payload: dict[str, Any]) -> None:
        self.writer.submit(self._arrival(channel, kind, key, payload, seq))

    def _arrival(self, channel: str, kind: str, key: str, payload: dict[str, Any], seq: int = 0) -> Arrival:
        tell = self._unrecorded.get(channel)
        on_failure = None if tell is None else functools.partial(tell, kind, payload)
        return Arrival(channel, kind, key, payload, on_failure, seq)

    def close(self) -> None:
        """Write the requests still queued (at shutdown): in the front, after the worker process
        stopped, those it did not confirm."""
        if self._handover is not None:
            self._handover.close()
        self.writer.close()
        if self._receiver is not None:
            self._receiver.close()

    def record(self, channel: str, kind: str, key: str) -> bool:
        """A request carried out on the spot (e.g. a form whose answer is the ack): only its key is
        kept, as a guard against replays. False when seen before."""
        return self._insert(channel, kind, key, None, DONE) is not None

    def run_now(
        self,
        channel: str,
        kind: str,
        payload: dict[str, Any],
        work: Callable[[dict[str, Any], Executed], T],
        *,
        key: str | None = None,
    ) -> T:
        """Record a request and carry it out at once in this thread, for a user who waits for the
        answer (console, web); returns what `work` returns. Raises OperationalError when the database
        cannot record it, RequestFailed when the work failed unexpectedly (reported already)."""
        token = self._tokens.next()
        item_id = self._insert(channel, kind, key or fresh_key(channel), payload, WORKING, claim=token)
        if item_id is None:
            raise RequestFailed(f"{channel}.{kind}: the request was seen before")
        item = Item(item_id, channel, kind, payload, 1, token)
        try:
            result = work(payload, self.executed_marker(item))
        except (ClaimLost, Abandon) as exc:
            raise RequestFailed(str(exc)) from exc
        except Exception as exc:
            self.errors.unexpected(f"inbound {item.work_name}", exc, request=item.id)
            self.failed(item, describe(exc))
            raise RequestFailed(item.work_name) from exc
        self.done(item)
        return result

    def on_arrival(self, nudge: Callable[[], None]) -> None:
        """Call `nudge` whenever a request is recorded (wakes a worker here or in another process)."""
        self._nudges.append(nudge)

    def nudge(self) -> None:
        for nudge in self._nudges:  # a hint: the workers also look on their own
            with self.errors.guard("inbox nudge"):
                nudge()

    def _insert(
        self,
        channel: str,
        kind: str,
        key: str,
        payload: dict[str, Any] | None,
        state: str,
        *,
        claim: str | None = None,
    ) -> int | None:
        """The new row's id, or None when the key was seen before."""
        now = self.clock.now()
        row = {
            "key": key[:MAX_KEY],
            "channel": channel,
            "kind": kind,
            "payload": payload,
            "state": state,
            "received_at": now,
            "attempts": 1 if claim else 0,
            "claimed_by": claim,
            "lease_until": now + self.lease if claim else None,
            "finished_at": now if state == DONE else None,
        }
        try:
            with self.db.transaction() as s:
                return int(s.scalars(insert(InboundRequest).returning(InboundRequest.id), [row]).one())
        except IntegrityError:
            log.info("%s request %s seen before: ignored", channel, key.split(":", 1)[0])
            return None

    # --- the working side ---------------------------------------------------------------------------

    def claim(self, worker: str, limit: int = 1, *, finished: Sequence[Item] = ()) -> list[Item]:
        """Take up to `limit` new requests, oldest first; in the same transaction, mark `finished`
        (requests this worker carried out since its last claim) done: one commit instead of one each."""
        now = self.clock.now()
        token = f"{worker}/{next(self._claims)}"[:60]
        with self.db.statements() as conn:
            self._finish_all(conn, finished, now)
            rows = _CLAIM(conn, {"now": now, "limit": limit, "token": token, "until": now + self.lease})
        # `attempts` as read, before this claim added one.
        return [
            Item(row.id, row.channel, row.kind, dict(row.payload or {}), row.attempts + 1, token)
            for row in rows
        ]

    def executed_marker(self, item: Item) -> Executed:
        """For the command's transaction: marks the request executed, or raises ClaimLost (which
        rolls the command back) when this worker no longer holds it."""

        def executed(s: Session) -> None:
            marked = s.connection().execute(_MARK_EXECUTED, {"item": item.id, "claim": item.claim})
            if not rowcount(marked):
                raise ClaimLost(f"inbound request {item.id}")

        return executed

    def done(self, item: Item) -> None:
        self._finish(item, DONE, None)

    def done_all(self, items: Sequence[Item]) -> None:
        with self.db.statements() as conn:
            self._finish_all(conn, items, self.clock.now())

    def failed(self, item: Item, error: str) -> None:
        self._finish(item, FAILED, error)

    def retry(self, item: Item, error: str) -> str:
        """A failure a later attempt may not have (the database hiccuped): again in a few seconds,
        failed after MAX_ATTEMPTS. A request whose command committed before the failure (its answer
        could not be made or sent) is never carried out again: it ends `failed` at once, with
        EXECUTED returned so no apology claims that nothing changed. Returns the new state."""
        now = self.clock.now()
        with self.db.transaction() as s:
            state = s.scalar(
                select(InboundRequest.state).where(
                    InboundRequest.id == item.id, InboundRequest.claimed_by == item.claim
                )
            )
            if state == EXECUTED:
                self._finish_in(s, item, FAILED, f"carried out; its answer failed: {error}", now)
                return EXECUTED
            if item.attempts >= MAX_ATTEMPTS:
                self._finish_in(s, item, FAILED, f"gave up after {item.attempts} attempts: {error}", now)
                return FAILED
            s.execute(
                update(InboundRequest)
                .where(
                    InboundRequest.id == item.id,
                    InboundRequest.state == WORKING,
                    InboundRequest.claimed_by == item.claim,
                )
                .values(state=NEW, claimed_by=None, lease_until=now + RETRY_AFTER, error=error[:300])
                .execution_options(synchronize_session=False)
            )
        return NEW

    def _finish(self, item: Item, state: str, error: str | None) -> None:
        with self.db.transaction() as s:
            self._finish_in(s, item, state, error, self.clock.now())

    def _finish_all(self, conn: Connection, items: Sequence[Item], now: datetime) -> None:
        """Mark `items` done, one statement per claim (the items of one claim share its token)."""
        by_claim: dict[str, list[int]] = {}
        for item in items:
            by_claim.setdefault(item.claim, []).append(item.id)
        for claim, ids in by_claim.items():
            conn.execute(_FINISH, {"items": ids, "claim": claim, "state": DONE, "now": now, "error": None})

    def _finish_in(self, s: Session, item: Item, state: str, error: str | None, now: datetime) -> None:
        s.connection().execute(
            _FINISH,
            {
                "items": [item.id],
                "claim": item.claim,
                "state": state,
                "now": now,
                "error": None if error is None else error[:300],
            },
        )

    def recover(self) -> tuple[int, int]:
        """Requests whose worker died: `working` ones are carried out again (their command did not
        commit); `executed` ones are finished (it did; the answer may be lost). Returns the counts."""
        now = self.clock.now()
        with self.db.transaction() as s:
            again = REQUESTS.take_back(s, now, WORKING, state=NEW)
            closed = REQUESTS.take_back(s, now, EXECUTED, state=DONE, payload=None, finished_at=now)
        if again or closed:
            log.warning(
                "inbox: %d request(s) of a stopped worker taken up again, %d closed (answer maybe lost)",
                again,
                closed,
            )
        return again, closed

    def prune(self) -> int:
        """Forget finished requests older than KEEP. Returns how many."""
        cutoff = self.clock.now() - KEEP
        with self.db.transaction() as s:
            result = s.execute(
                delete(InboundRequest).where(
                    InboundRequest.state.in_((DONE, FAILED)), InboundRequest.received_at < cutoff
                )
            )
        return rowcount(result)

    def waiting(self) -> int:
        """How many requests wait to be carried out (operators, tests)."""
        with self.db.read() as s:
            return int(
                s.scalar(select(func.count()).select_from(InboundRequest).where(InboundRequest.state == NEW))
                or 0
            )
