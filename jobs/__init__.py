"""Every scheduled job, registered in one list with a stable id. Jobs only wake work; state is in SQL.

The core's jobs are listed here; a channel adds its own periodic upkeep (`Channel.jobs`), registered
the same way. Only the leader (see bot.delivery.leader) runs them, so several processes never plan
twice; a job that fails is reported to the error policy and runs again at its next time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from apscheduler.schedulers.base import BaseScheduler

from bot.bounce_source import BounceSource
from bot.channel import ChannelJob
from jobs.bounces import POLL_SECONDS, poll_bounces
from jobs.context import JobContext
from jobs.deliveries import plan_deliveries
from jobs.housekeeping import mark_sessions_held
from jobs.recurrence import create_recurring_sessions


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[JobContext, BaseScheduler], object]
    seconds: float


JOBS: tuple[Job, ...] = (
    Job("deliveries.plan", plan_deliveries, 15),
    Job("sessions.mark_held", lambda app, _s: mark_sessions_held(app), 60),
    Job("series.recurrence", lambda app, _s: create_recurring_sessions(app), 3600),
)


def register(
    scheduler: BaseScheduler,
    app: JobContext,
    channel_jobs: Sequence[ChannelJob] = (),
    bounce_sources: Sequence[BounceSource] = (),
) -> None:
    """The core's jobs and the channels' on `scheduler`, each first run at once; with bounce
    mailboxes, the job that reads them."""
    every = [(job.id, _bound(job, app, scheduler), job.seconds) for job in JOBS]
    every += [(job.id, job.run, job.seconds) for job in channel_jobs]
    if bounce_sources:
        every.append(("bounces.poll", lambda: poll_bounces(app, bounce_sources), POLL_SECONDS))
    for job_id, run, seconds in every:
        scheduler.add_job(
            guarded(job_id, run, app),
            "interval",
            seconds=seconds,
            id=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(seconds),
            next_run_time=app.clock.now(),
        )


def _bound(job: Job, app: JobContext, scheduler: BaseScheduler) -> Callable[[], object]:
    return lambda: job.func(app, scheduler)


def guarded(job_id: str, run: Callable[[], object], app: JobContext) -> Callable[[], None]:
    """Leader only; a failing job goes to the error policy and runs again at its next time."""

    def run_as_leader() -> None:
        with app.errors.guard(f"job {job_id}"):
            if app.delivery.leadership.is_leader():
                run()

    return run_as_leader
