"""Every scheduled job, registered in one list with a stable id. Jobs only wake work; state is in SQL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.base import BaseScheduler

from bot.app import App
from jobs.housekeeping import mark_sessions_held

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[App], object]
    seconds: int


JOBS: tuple[Job, ...] = (Job("sessions.mark_held", mark_sessions_held, 60),)


def register(scheduler: BaseScheduler, app: App) -> None:
    for job in JOBS:
        scheduler.add_job(
            _guarded(job, app),
            "interval",
            seconds=job.seconds,
            id=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=job.seconds,
        )


def _guarded(job: Job, app: App) -> Callable[[], None]:
    """A failing job logs and tries again at its next run; it never kills the scheduler."""

    def run() -> None:
        try:
            job.func(app)
        except Exception:
            log.exception("job %s failed", job.id)

    return run
