"""A channel's worker: claims due outbox rows, keeps the pace, sends, and records the outcome."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.db import Database
from bot.delivery import pacing
from bot.delivery.channels import OutgoingMessage, PermanentError, RetryLater, Sender, TransientError
from bot.delivery.outbox import Claimed, Outbox

log = logging.getLogger(__name__)

IDLE_POLL = 2.0  # seconds between looks at the outbox when idle (another process may have added work)
# The claim on the rest of a batch is renewed once this share of the lease has passed, so it always
# has at least the other two thirds to run, whatever the worker waits for.
RENEW_AFTER = 1 / 3
STOP_CHECK = 0.5  # seconds: how often a worker waiting for its send slot looks whether it must stop


class Worker:
    """Sends one claimed batch at a time; `in_flight` > 1 sends that many of its rows at once (threads
    sharing the database's pace), for a platform whose round trips are slower than its pace."""

    def __init__(
        self,
        sender: Sender,
        db: Database,
        outbox: Outbox,
        clock: Clock,
        batch: int = 10,
        in_flight: int = 1,
    ) -> None:
        self.sender, self.db, self.outbox, self.clock = sender, db, outbox, clock
        self.batch = max(batch, in_flight)
        self.name = f"{sender.channel}-{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._pool = ThreadPoolExecutor(in_flight, f"send-{self.name}") if in_flight > 1 else None
        self._lock = threading.Lock()  # guards the two below; one renewal at a time
        self._held: list[int] = []  # claimed by this worker, not yet begun
        self._renewed_at: datetime | None = None
        self._recovered_at: datetime | None = None

    def run_once(self) -> int:
        """Send what is due now; returns how many rows were taken."""
        now = self.clock.now()
        self._recover(now)
        claimed = self.outbox.claim(self.sender.channel, self.name, now, self.batch)
        with self._lock:
            self._held, self._renewed_at = [c.id for c in claimed], now
        if self._pool is None:
            for item in claimed:
                self._take(item)
        else:
            futures = [self._pool.submit(self._take, item) for item in claimed]
            wait(futures)
            for future in futures:
                future.result()  # the first error, once the whole batch is done
        return len(claimed)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def drain(self, limit: int = 1_000_000) -> int:
        """Run until nothing is due (tests, manual sends); returns how many rows were taken."""
        total = 0
        while total < limit and (taken := self.run_once()):
            total += taken
        return total

    def run(self) -> None:
        """The thread's loop: work while there is work, otherwise wait to be woken or poll."""
        while not self.stopping.is_set():
            try:
                if self.run_once():
                    continue
                self.wake.wait(self._idle_wait())
                self.wake.clear()
            except Exception:  # a database hiccup must not end the worker
                log.exception("worker %s: run failed; retrying shortly", self.name)
                self.stopping.wait(IDLE_POLL)

    def _idle_wait(self) -> float:
        due = self.outbox.next_due(self.sender.channel)
        if due is None:
            return IDLE_POLL
        return max(0.0, min(IDLE_POLL, (due - self.clock.now()).total_seconds()))

    def _recover(self, now: datetime) -> None:
        """Take back the rows of dead workers; a lease lasts seconds, so once a second is soon enough."""
        last = self._recovered_at
        if last is None or not timedelta(0) <= now - last < timedelta(seconds=1):
            self.outbox.recover(now)
            self._recovered_at = now

    def _take(self, item: Claimed) -> None:
        """Deliver one claimed row, or hand it back to the others when stopping."""
        if self.stopping.is_set():
            self.outbox.release([item.id], self.name, self.clock.now())
        else:
            self._deliver(item)

    def _deliver(self, item: Claimed) -> None:
        # The slot is booked before the row is marked in flight, so a crash while waiting loses nothing.
        # With no wait (the usual case when the sends themselves take the pace's time) both happen in
        # one transaction.
        paces = self.sender.pacing(item.target)
        self._keep_claim()
        with self.db.transaction() as s:
            now = self.clock.now()
            slot = pacing.reserve(s, paces, now)
            message = self.outbox.begin_in(s, item.id, self.name, now) if slot <= now else None
        if slot > now:
            if not self._wait_until(slot):  # stopping: the row goes back to the others, unsent
                with self._lock:
                    self._held.remove(item.id)
                self.outbox.release([item.id], self.name, self.clock.now())
                return
            message = self.outbox.begin(item.id, self.name, self.clock.now())
        with self._lock:
            self._held.remove(item.id)
        if message is None:
            return
        delivery_id = message.delivery_id
        try:
            ref = self._send(message)
        except RetryLater as exc:
            until = self.clock.now() + timedelta(seconds=max(exc.seconds, 0.0))
            with self.db.transaction() as s:
                pacing.push_back(s, paces, until)
            self.outbox.throttled(delivery_id, self.clock.now(), until, f"throttled: {exc}")
        except TransientError as exc:
            state = self.outbox.transient(delivery_id, self.clock.now(), str(exc), in_doubt=exc.in_doubt)
            log.warning("delivery %s: %s (%s)", delivery_id, exc, state)
        except PermanentError as exc:
            self.outbox.failed(delivery_id, self.clock.now(), str(exc))
            log.error("delivery %s failed: %s", delivery_id, exc)
        except Exception as exc:
            log.exception("delivery %s: unexpected error in the %s sender", delivery_id, self.sender.channel)
            self.outbox.transient(
                delivery_id, self.clock.now(), f"{type(exc).__name__}: {exc}", in_doubt=True
            )
        else:
            self.outbox.sent(delivery_id, self.clock.now(), ref)

    def _wait_until(self, slot: datetime) -> bool:
        """Sleep until `slot`, renewing the claim on the rest of the batch as the lease runs down;
        False when the worker is stopping first (a slot after a long Retry-After must not hold up a
        shutdown)."""
        step = min(STOP_CHECK, self.outbox.lease.total_seconds() * RENEW_AFTER)
        while not self.stopping.is_set():
            self._keep_claim()
            left = (slot - self.clock.now()).total_seconds()
            if left <= 0:
                return True
            self.clock.sleep(min(left, step))
        return False

    def _keep_claim(self) -> None:
        with self._lock:
            now = self.clock.now()
            if self._renewed_at is not None and now - self._renewed_at < self.outbox.lease * RENEW_AFTER:
                return
            self.outbox.renew(list(self._held), self.name, now)
            self._renewed_at = now

    def _send(self, message: OutgoingMessage) -> str | None:
        if message.in_doubt:
            found = self.sender.find_sent(message)
            if found is not None:
                log.info("delivery %s went out before a crash (%s): not resent", message.delivery_id, found)
                return found
        return self.sender.send(message)
