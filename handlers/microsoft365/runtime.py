"""The background work of Microsoft 365 in a running bot: one thread runs the periodic tasks (the
leader's only: the calendar, reading Teams, subscriptions, attendance, upkeep), another the
notification queue.

They live here rather than in `jobs/` because they exist only when Microsoft 365 is configured and
keep their own pace (TEAMS_POLL_INTERVAL, CALENDAR_SYNC_INTERVAL), and a lifecycle notification
can ask for a poll at once (`run_now`); their state is in SQL all the same. Commands read from Teams
are only recorded here: the inbox worker carries them out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from handlers.microsoft365.service import Microsoft365

log = logging.getLogger(__name__)
# How often sessions that ended are looked at for Teams attendance reports (each is read again only
# every attendance.EVERY).
ATTENDANCE_INTERVAL = 300.0


@dataclass
class Periodic:
    name: str
    every: float
    run: Callable[[], object]
    due: float = 0.0  # time.monotonic() of the next run


class GraphRuntime:
    def __init__(self, graph: Microsoft365) -> None:
        self.graph, self.leader, self.errors = graph, graph.core.is_leader, graph.core.errors
        settings = graph.settings
        self.tasks = [
            Periodic("calendar", settings.calendar_sync_interval, graph.calendar.run_once),
            Periodic("teams.poll", settings.poll_interval, graph.poll),
            Periodic("graph.subscriptions", 60.0, graph.subscriptions.tick),
            Periodic("attendance", ATTENDANCE_INTERVAL, graph.attendance.run_once),
        ]
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="graph-periodic", daemon=True)

    def start(self) -> GraphRuntime:
        self.graph.inbox.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.graph.inbox.stop()
        self.graph.close()

    def run_now(self, name: str) -> None:
        """Run a task at once (e.g. a poll after a `missed` lifecycle notification)."""
        for task in self.tasks:
            if task.name == name:
                task.due = 0.0
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for task in self.tasks:
                if task.due <= now and not self._stop.is_set():
                    task.due = now + task.every
                    self._run_task(task)
            next_due = min(task.due for task in self.tasks)
            self._wake.wait(max(0.05, next_due - time.monotonic()))
            self._wake.clear()

    def _run_task(self, task: Periodic) -> None:
        # A failing task must not end the thread; it runs again at its next time.
        with self.errors.guard(f"job {task.name}"):
            if self.leader():
                task.run()
