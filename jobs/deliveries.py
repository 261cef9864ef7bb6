"""Planning deliveries, and a precise wake-up for the next due message (punctuality under a second)."""

from __future__ import annotations

from apscheduler.schedulers.base import BaseScheduler

from jobs.context import JobContext

WAKE_JOB = "deliveries.wake"


def plan_deliveries(app: JobContext, scheduler: BaseScheduler) -> None:
    """Expand what is due now, then schedule a one-off run at the next due moment."""
    app.delivery.plan()
    due = app.delivery.planner.next_due(app.clock.now())
    if due is not None:
        scheduler.add_job(
            lambda: plan_deliveries(app, scheduler),
            "date",
            run_date=due,
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=60,
        )
