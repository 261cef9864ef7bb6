"""A channel's worker: claims due outbox rows, keeps the pace, sends, and records the outcome."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta

from bot.clock import Clock
from bot.db import Database
from bot.delivery import pacing
from bot.delivery.channels import OutgoingMessage, PermanentError, RetryLater, Sender, TransientError
from bot.delivery.outbox import Outbox
from bot.models import Delivery

log = logging.getLogger(__name__)

IDLE_POLL = 2.0  # seconds between looks at the outbox when idle (another process may have added work)


class Worker:
    def __init__(self, sender: Sender, db: Database, outbox: Outbox, clock: Clock, batch: int = 10) -> None:
        self.sender, self.db, self.outbox, self.clock = sender, db, outbox, clock
        self.batch = batch
        self.name = f"{sender.channel}-{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self.wake = threading.Event()

    def run_once(self) -> int:
        """Send what is due now; returns how many rows were taken."""
        now = self.clock.now()
        self.outbox.recover(now)
        ids = self.outbox.claim(self.sender.channel, self.name, now, self.batch)
        for index, delivery_id in enumerate(ids):
            if self.stopping.is_set():
                self.outbox.release(ids[index:], self.name, self.clock.now())
                break
            self._deliver(delivery_id)
        return len(ids)

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

    def _deliver(self, delivery_id: int) -> None:
        # The pace is kept before the row is marked in flight, so a crash while waiting loses nothing.
        target = self._target_of(delivery_id)
        paces = self.sender.pacing(target) if target is not None else []
        with self.db.transaction() as s:
            slot = pacing.reserve(s, paces, self.clock.now())
        self.clock.sleep((slot - self.clock.now()).total_seconds())
        message = self.outbox.begin(delivery_id, self.name, self.clock.now())
        if message is None:
            return
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

    def _send(self, message: OutgoingMessage) -> str | None:
        if message.in_doubt:
            found = self.sender.find_sent(message)
            if found is not None:
                log.info("delivery %s went out before a crash (%s): not resent", message.delivery_id, found)
                return found
        return self.sender.send(message)

    def _target_of(self, delivery_id: int) -> str | None:
        with self.db.read() as s:
            d = s.get(Delivery, delivery_id)
            return d.target if d else None
