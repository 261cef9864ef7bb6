"""Driving the delivery engine in simulated time: what the scheduler would do, without waiting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.delivery import holds
from bot.entry.composition import App
from bot.models import Delivery, DeliveryState, Fanout
from jobs import JOBS

# The longest simulated jump: the upkeep jobs (recurrence, held sessions) need no finer steps.
HOUR = timedelta(hours=6)
PLANNING = "deliveries.plan"


def next_wakeup(app: App, now: datetime) -> datetime:
    """The earliest of: the planner's next due moment, a due outbox row under no hold, the next
    probe of a held channel, the hourly jobs."""
    candidates = [now + HOUR]
    due = app.delivery.planner.next_due(now)
    if due is not None:
        candidates.append(due)
    with app.db.read() as s:
        pending = s.scalar(
            select(func.min(func.coalesce(Delivery.next_attempt_at, Delivery.due_at))).where(
                Delivery.state == DeliveryState.PENDING.value, holds.not_held()
            )
        )
        probes = [h.probe_at for h in holds.current(s)]
    candidates += [at for at in (pending, *probes) if at is not None]
    return min(candidates)


def simulate(app: App, clock: ManualClock, until: datetime, on_step: Callable[[], None] | None = None) -> int:
    """Run the schedule from now to `until`, jumping from one due moment to the next; returns steps."""
    steps = 0
    last_hourly: datetime | None = None
    scheduler = BackgroundScheduler(timezone="UTC")  # never started: the planning job's wake-ups are ignored
    upkeep = [job for job in JOBS if job.id != PLANNING]  # the planning is run_until_idle's
    while clock.now() < until:
        now = clock.now()
        if last_hourly is None or now - last_hourly >= HOUR:
            for job in upkeep:
                job.func(app, scheduler)
            last_hourly = now
        app.delivery.run_until_idle()
        if on_step is not None:
            on_step()
        wake = next_wakeup(app, clock.now())
        clock.set(min(max(wake, clock.now() + timedelta(seconds=1)), until))
        steps += 1
    app.delivery.run_until_idle()
    return steps


def fanout_notes(app: App) -> dict[str, str | None]:
    with app.db.read() as s:
        return {f.key: f.note for f in s.scalars(select(Fanout).order_by(Fanout.id))}


def delivery_states(app: App) -> dict[str, int]:
    with app.db.read() as s:
        rows = s.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
        return {state: n for state, n in rows}
