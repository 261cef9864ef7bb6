"""Every scheduled job, registered in one list with a stable id. Jobs only wake work; state is in SQL.

Only the leader (see bot.delivery.leader) runs them, so several processes never plan twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.base import BaseScheduler

from bot.app import App
from jobs.deliveries import plan_deliveries
from jobs.housekeeping import mark_sessions_held
from jobs.recurrence import create_recurring_sessions
from jobs.web import purge_expired_confirmations

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[App, BaseScheduler], object]
    seconds: int


JOBS: tuple[Job, ...] = (
    Job("deliveries.plan", plan_deliveries, 15),
    Job("sessions.mark_held", lambda app, _s: mark_sessions_held(app), 60),
    Job("series.recurrence", lambda app, _s: create_recurring_sessions(app), 3600),
    Job("web.purge_confirmations", lambda app, _s: purge_expired_confirmations(app), 3600),
)


def register(scheduler: BaseScheduler, app: App) -> None:
    for job in JOBS:
        scheduler.add_job(
            guarded(job, app, scheduler),
            "interval",
            seconds=job.seconds,
            id=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=job.seconds,
            next_run_time=app.clock.now(),
        )


def guarded(job: Job, app: App, scheduler: BaseScheduler) -> Callable[[], None]:
    """Leader only; a failing job logs and tries again at its next run, never killing the scheduler."""

    def run() -> None:
        try:
            if app.delivery.leadership.is_leader():
                job.func(app, scheduler)
        except Exception:
            log.exception("job %s failed", job.id)

    return run
