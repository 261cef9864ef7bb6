"""The inbox worker: threads that claim inbound requests (`bot/inbox.py`) a few at a time and carry
them out with the work each channel registered.

The commands of one claim whose work is `Batchable` share one transaction (a batch), without a
savepoint each; their requests are marked `executed` together at its end (`ExecutedMarks`); one
commit for all; their answers only after that commit. A command refused or failing before it wrote
anything leaves the others be. One that failed after it wrote, or a request whose claim was lost,
rolls the batch back: that command's outcome stands as its own rollback would have left it (its
refusal answered, its failure tried again, nothing for a request taken over), and the others are
carried out again in another batch. A batch that fails as a whole (the database went away, the
commit failed) committed nothing: its requests are then carried out one by one, each in a
transaction of its own, as any other request is. Why: a commit (a disk flush, and on SQLite a turn
of the one write lock) was most of the cost of a burst of small commands, and on PostgreSQL a
savepoint and a mark of each command three of its eight round trips.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.db import Batch
from bot.dispatch import Abandon
from bot.error_policy import describe
from bot.inbox import FAILED, Apology, Batchable, ClaimLost, Effect, ExecutedMarks, Inbox, Item, Step, Work
from bot.leases import ClaimTokens

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # a look at the table when not nudged (another process may have added work)
# Requests one worker thread claims at once: a burst is taken in few transactions, and each claim
# also marks the thread's previous ones done; small enough that the threads share a burst.
CLAIM_BATCH = 8
UPKEEP_EVERY = timedelta(seconds=30)
PRUNE_EVERY = timedelta(hours=1)

# What became of a request of a batch: what follows its commit (its answer), its failure (reported
# once the batch is over), or None (another worker took it over: nothing).
Outcome = Effect | Exception | None


class _Again(Exception):
    """Rolls a batch's transaction back, to carry some of its commands out again in another."""


class InboxWorker:
    """Threads that carry out inbound requests with the work each channel registered.

    A nudge (`wake`) brings a waiting thread at once; without one, each looks every POLL_SECONDS, so
    requests recorded by another process are found too. A request whose work fails unexpectedly is
    reported to the error policy and tried again; after MAX_ATTEMPTS its channel is told to
    apologise to the user.
    """

    def __init__(
        self,
        inbox: Inbox,
        work: Mapping[str, Work],
        *,
        apologise: Apology | None = None,
        threads: int = 4,
    ) -> None:
        self.inbox, self.work, self.apologise = inbox, dict(work), apologise
        self.name = ClaimTokens("inbox").name
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
        while items := self.inbox.claim(self.name, CLAIM_BATCH):
            self.inbox.done_all(self.carry_out(items))
            count += len(items)
        return count

    def _loop(self) -> None:
        finished: list[Item] = []  # carried out, to be marked done with the next claim
        while not self.stopping.is_set():
            self._wake.clear()
            with self.inbox.errors.guard("inbox worker"):
                self._upkeep()
                items = self.inbox.claim(self.name, CLAIM_BATCH, finished=finished)
                finished = []
                if not items:
                    self._wake.wait(POLL_SECONDS)
                    continue
                self._wake.set()  # there may be more: let a sibling look while this one works
                finished = self.carry_out(items)
                continue
            self.stopping.wait(POLL_SECONDS)  # the database hiccuped: look again shortly
        if finished:
            with self.inbox.errors.guard("inbox worker"):
                self.inbox.done_all(finished)

    def handle(self, item: Item) -> None:
        """Carry out one request and mark it done."""
        if self._carry_out(item):
            self.inbox.done(item)

    def carry_out(self, items: Sequence[Item]) -> list[Item]:
        """Carry out a claim's requests: the batchable ones together (see the module), then the
        others one by one; returns those to mark done (see `_carry_out`)."""
        steps: list[tuple[Item, Step]] = []
        alone: list[Item] = []
        for item in items:
            work = self.work.get(item.work_name)
            if not isinstance(work, Batchable):
                alone.append(item)
                continue
            try:
                step = work.prepare(item.payload)
            except Exception as exc:
                self._failed(item, exc)
                continue
            if step is None:
                alone.append(item)
            else:
                steps.append((item, step))
        finished = self._batch(steps) if steps else []
        return finished + [item for item in alone if self._carry_out(item)]

    def _batch(self, steps: Sequence[tuple[Item, Step]]) -> list[Item]:
        """Carry out `steps` in one transaction, again without those it settled when it had to
        roll back (see the module), then what follows each, in their order; returns those done."""
        outcomes: dict[int, Outcome] = {}
        pending = list(steps)
        while pending:
            try:
                pending = self._attempt(pending, outcomes)
            except SQLAlchemyError as gone:
                log.warning(
                    "inbox: a batch of %d failed (%s): one by one instead", len(pending), describe(gone)
                )
                settled = self._follow(steps, outcomes)
                return settled + [item for item, step in pending if self._carry_out(item, step)]
        return self._follow(steps, outcomes)

    def _attempt(
        self, steps: Sequence[tuple[Item, Step]], outcomes: dict[int, Outcome]
    ) -> list[tuple[Item, Step]]:
        """One transaction for `steps`. Puts in `outcomes` what it settled: the commands it committed,
        and those that need no commit (a refusal or a failure before they wrote anything, a request
        taken over). When a command failed after it wrote (the batch is spoiled, see `Batch`), or
        a claim was lost, it rolls back: that command's outcome stands (as its own rollback would
        have left it), the steps that changed something before it and those after it are returned,
        to carry out again. Raises SQLAlchemyError when the database failed (nothing committed)."""
        marks = ExecutedMarks()
        settled: dict[int, Outcome] = {}  # stands whether or not the transaction commits
        committed: dict[int, Outcome] = {}  # stands once it committed
        changed: list[tuple[Item, Step]] = []
        again: list[tuple[Item, Step]] = []
        try:
            with self.inbox.db.batch() as batch:
                for index, (item, step) in enumerate(steps):
                    writes = batch.writes
                    outcome = self._step(item, step, batch, marks)
                    if batch.spoiled:
                        settled[item.id] = outcome
                        again = changed + list(steps[index + 1 :])
                        raise _Again
                    if item in marks or batch.writes != writes:
                        changed.append((item, step))
                        committed[item.id] = outcome
                    else:
                        settled[item.id] = outcome
                lost = {item.id for item in marks.write(batch)}
                if lost:
                    for item_id in lost:
                        log.warning("inbox: request %s was taken over by another worker", item_id)
                        settled[item_id] = None
                    again = [(item, step) for item, step in changed if item.id not in lost]
                    raise _Again
        except _Again:
            outcomes.update(settled)
            return again
        outcomes.update(settled)
        outcomes.update(committed)
        return []

    def _step(self, item: Item, step: Step, batch: Batch, marks: ExecutedMarks) -> Outcome:
        try:
            return step(batch, marks.marker(item))
        except (ClaimLost, Abandon):
            log.warning("inbox: request %s was taken over by another worker", item.id)
            return None
        except SQLAlchemyError:
            raise  # the batch's transaction may be gone: nothing of it commits
        except Exception as exc:
            return exc  # reported once the batch is over

    def _follow(self, steps: Sequence[tuple[Item, Step]], outcomes: Mapping[int, Outcome]) -> list[Item]:
        """What follows each settled step, in their order: its answer, or its failure reported;
        returns the requests to mark done."""
        finished: list[Item] = []
        for item, _step in steps:
            if item.id not in outcomes:
                continue
            outcome = outcomes[item.id]
            if outcome is None:
                continue
            if isinstance(outcome, Exception):
                self._failed(item, outcome)
                continue
            try:
                outcome()
            except Exception as exc:
                self._failed(item, exc)
                continue
            finished.append(item)
        return finished

    def _carry_out(self, item: Item, step: Step | None = None) -> bool:
        """True when the request was carried out and is to be marked done; a request that failed
        is marked for another try or as failed here, one taken over by another worker left alone.
        Not done yet, a request carried out is `executed` (or still `working` when its work changed
        nothing): a worker that dies now leaves it to `recover`, which never carries out an
        executed one again. `step`: the request's prepared command (a batch that failed)."""
        work = self.work.get(item.work_name)
        if work is None:
            log.error("inbox: no work registered for %s (request %s)", item.work_name, item.id)
            self.inbox.failed(item, f"no work registered for {item.work_name}")
            return False
        try:
            if step is None:
                work(item.payload, self.inbox.executed_marker(item))
            else:
                step(None, self.inbox.executed_marker(item))()
        except (ClaimLost, Abandon):
            log.warning("inbox: request %s was taken over by another worker", item.id)
            return False
        except Exception as exc:
            self._failed(item, exc)
            return False
        return True

    def _failed(self, item: Item, exc: Exception) -> None:
        """An unexpected failure: reported, the request tried again later; after MAX_ATTEMPTS (or
        when its command committed, see `Inbox.retry`) it fails for good, with an apology when
        nothing was carried out."""
        self.inbox.errors.unexpected(f"inbound {item.work_name}", exc, request=item.id, attempt=item.attempts)
        if self.inbox.retry(item, describe(exc)) == FAILED and self.apologise is not None:
            with self.inbox.errors.guard(f"apology {item.work_name}", request=item.id):
                self.apologise(item.channel, item.kind, item.payload)

    def _upkeep(self, *, force: bool = False) -> None:
        """Now and then: take up the requests of stopped workers, forget old ones."""
        now = self.inbox.clock.now()
        if not self._upkeep_lock.acquire(blocking=False):
            return
        try:
            if force or self._upkept_at is None or now - self._upkept_at >= UPKEEP_EVERY:
                self._upkept_at = now
                self.inbox.writer.write_kept()  # acked while the database was away (any process)
                self.inbox.recover()
            if force or self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = now
                self.inbox.prune()
        finally:
            self._upkeep_lock.release()
