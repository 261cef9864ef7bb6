"""The engine: the planner (leader only) and one worker thread per channel, woken when work is due;
after each planning pass, the mail caps weighed (`cap_warnings.py`), here or in the worker process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from bot.clock import Clock
from bot.db import Database
from bot.delivery.cap_warnings import CapWarnings
from bot.delivery.channels import Sender
from bot.delivery.daily_caps import capped
from bot.delivery.events import NoEvents, SendEvents
from bot.delivery.holds import Hold
from bot.delivery.leader import Leadership
from bot.delivery.outages import Outages
from bot.delivery.outbox import LEASE, Outbox
from bot.delivery.planner import Planner, PlanReport
from bot.delivery.recipients import Audience
from bot.delivery.worker import Worker
from bot.error_policy import ErrorPolicy
from bot.memory import release_free_memory
from bot.services.context import CoreConfig

log = logging.getLogger(__name__)


class DeliveryEngine:
    def __init__(
        self,
        db: Database,
        config: CoreConfig,
        clock: Clock,
        errors: ErrorPolicy,
        leadership: Leadership,
        lease: timedelta = LEASE,
        report: SendEvents | None = None,
    ) -> None:
        self.db, self.clock, self.errors = db, clock, errors
        self.report = report or NoEvents()  # each send attempt, for the metrics
        self.senders: list[Sender] = []
        self.outbox = Outbox(db, config, lease)
        self.planner = Planner(db, config, lambda: list(self.senders))
        self.cap_warnings = CapWarnings(db, lambda: list(self.senders))
        self.outages = Outages(db, config, self.outbox, lambda: list(self.senders), self.wake)
        self.leadership = leadership
        self.workers: dict[str, Worker] = {}
        self._threads: list[threading.Thread] = []
        # The periodic job and the precise wake-up may fire together: one planning pass at a time.
        self._planning = threading.Lock()
        self._nudges: list[Callable[[], None]] = []
        # Where the caps are weighed after a pass: None here, in the pass; else a nudge to the
        # worker process, whose thread `caps` weighs them (see `weigh_caps_elsewhere`).
        self._caps_elsewhere: Callable[[], None] | None = None
        self._caps_due = threading.Event()
        self._caps_thread: threading.Thread | None = None
        self._caps_start = threading.Lock()
        self._stopping = threading.Event()

    def add_sender(self, sender: Sender, *, batch: int = 10, in_flight: int = 1) -> None:
        """`in_flight`: sends of this channel at once (1: one after the other)."""
        self.senders = [s for s in self.senders if s.channel != sender.channel] + [sender]
        self.workers[sender.channel] = Worker(
            sender, self.db, self.outbox, self.outages, self.clock, self.errors, batch, in_flight, self.report
        )

    def plan(self) -> PlanReport | None:
        """Expand what is due (leader only) and wake the workers; None when another process leads."""
        if not self.leadership.is_leader():
            return None
        with self._planning:
            now = self.clock.now()
            audience = Audience()  # the pass's reads of the subscribers, the caps' too
            report = self.planner.run(now, audience)
            told = self.cap_warnings.check(now, audience) if self._caps_elsewhere is None else 0
        if self._caps_elsewhere is not None and capped(self.senders):
            self._caps_elsewhere()
        if report.expanded or report.added_late or told:
            self.wake()
            release_free_memory()  # what expanding a fan-out held
        return report

    def weigh_caps_elsewhere(self, nudge: Callable[[], None]) -> None:
        """Leave the mail caps to the worker process, nudged after each pass (the front's): weighing
        them reads every subscriber after any change (0.15 s of CPU with 12,000), which would hold
        the interpreter that acks requests. A nudge lost to a full pipe is made good by the next
        pass, as the weighing looks at the state, not at what changed."""
        self._caps_elsewhere = nudge

    def weigh_caps_soon(self) -> None:
        """Weigh the mail caps in this engine's thread `caps` (the worker process's end of
        `weigh_caps_elsewhere`); returns at once, nudges that come meanwhile make one weighing."""
        with self._caps_start:
            if self._caps_thread is None:
                self._caps_thread = threading.Thread(target=self._weigh_caps, name="caps", daemon=True)
                self._caps_thread.start()
        self._caps_due.set()

    def _weigh_caps(self) -> None:
        while True:
            self._caps_due.wait()
            self._caps_due.clear()
            if self._stopping.is_set():
                return
            with self.errors.guard("weighing the mail caps"):
                weighed = self.cap_warnings.weighings
                if self.cap_warnings.check(self.clock.now()):
                    self.wake()
                if self.cap_warnings.weighings != weighed:
                    release_free_memory()  # what reading every subscriber held

    def run_until_idle(self) -> int:
        """Plan, then send everything due now, in this thread (tests, simulations, manual sends)."""
        self.plan()
        return sum(worker.drain() for worker in self.workers.values())

    def wake(self) -> None:
        for worker in self.workers.values():
            worker.wake.set()
        for nudge in self._nudges:
            nudge()

    def on_wake(self, nudge: Callable[[], None]) -> None:
        """Also call `nudge` on every wake-up (the senders of a worker process elsewhere)."""
        self._nudges.append(nudge)

    def paused(self) -> list[Hold]:
        """The channels (or their targets) that cannot send now, as every process sees them."""
        return self.outages.current()

    def start(self) -> None:
        self.outages.probe_soon(self.clock.now())
        for worker in self.workers.values():
            thread = threading.Thread(target=worker.run, name=f"worker-{worker.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        self._caps_due.set()
        if self._caps_thread is not None:
            self._caps_thread.join(timeout=30)
            self._caps_thread = None
        for worker in self.workers.values():
            worker.stopping.set()
            worker.wake.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        for worker in self.workers.values():
            worker.close()
        self.leadership.resign()
