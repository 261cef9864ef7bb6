"""The inbox worker: threads that claim inbound requests (`bot/inbox.py`) a few at a time and carry
them out with the work each channel registered.

The commands of one claim whose work is `Batchable` share one transaction (a batch): each in a
savepoint of its own with its request's `executed` mark, so a refusal, an error or a lost claim rolls
back that command alone; one commit for all; their answers only after that commit. A batch that
fails as a whole (the database went away, the commit failed) committed nothing: its requests are
then carried out one by one, each in a transaction of its own, as any other request is. Why: a
commit (a disk flush, and on SQLite a turn of the one write lock) was most of the cost of a burst
of small commands.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.dispatch import Abandon
from bot.error_policy import describe
from bot.inbox import FAILED, Apology, Batchable, ClaimLost, Effect, Inbox, Item, Step, Work
from bot.leases import ClaimTokens

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # a look at the table when not nudged (another process may have added work)
# Requests one worker thread claims at once: a burst is taken in few transactions, and each claim
# also marks the thread's previous ones done; small enough that the threads share a burst.
CLAIM_BATCH = 8
UPKEEP_EVERY = timedelta(seconds=30)
PRUNE_EVERY = timedelta(hours=1)


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
        """Carry out `steps` in one transaction, then what follows each; see `carry_out`."""
        effects: list[tuple[Item, Effect]] = []
        failures: list[tuple[Item, Exception]] = []
        try:
            with self.inbox.db.batch() as batch:
                for item, step in steps:
                    try:
                        effects.append((item, step(batch, self.inbox.executed_marker(item))))
                    except (ClaimLost, Abandon):
                        log.warning("inbox: request %s was taken over by another worker", item.id)
                    except SQLAlchemyError:
                        raise  # the batch's transaction may be gone: nothing of it commits
                    except Exception as exc:
                        failures.append((item, exc))  # rolled back alone (or executed: see retry)
        except SQLAlchemyError as gone:
            log.warning("inbox: a batch of %d failed (%s): one by one instead", len(steps), describe(gone))
            return [item for item, step in steps if self._carry_out(item, step)]
        for item, failure in failures:
            self._failed(item, failure)
        finished: list[Item] = []
        for item, effect in effects:
            try:
                effect()
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
