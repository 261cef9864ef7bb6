"""How costs grow with the list: one planner pass that expands a fan-out to everyone, and the month
simulation (`bench.month`), each at several list sizes, with the cost per subscriber.

The planner pass: a session whose invitation falls due now, N subscribers by mail (a recording
channel that reaches everyone), one `DeliveryEngine.plan` timed in process: from reading the
schedule to the N delivery rows committed. Linear growth shows as a flat cost per subscriber.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.common import Figure, fresh_sqlite, in_process_bot
from bench.month import run_month
from bench.population import add_subscribers, plan_sessions
from bot.clock import ManualClock
from bot.models import Delivery
from tests.fakes.recording_sender import RecordingSender

PLANNER_SIZES = (100, 10_000, 100_000)
# The month sends about three messages per subscriber through the delivery worker, one transaction
# each: 10,000 subscribers take minutes already, 100,000 would take most of an hour.
MONTH_SIZES = (100, 1_000, 10_000)
QUICK_PLANNER_SIZES = (100, 1_000, 10_000)
QUICK_MONTH_SIZES = (20, 100)
# Friday 13 March 2026, 09:00 in Oslo; its invitation (7 days before) falls due at NOW.
SESSION = datetime(2026, 3, 13, 8, 0, tzinfo=UTC)
NOW = SESSION - timedelta(days=7)


@dataclass
class PlannerPass:
    subscribers: int
    seconds: float
    deliveries: int

    @property
    def per_subscriber_us(self) -> float:
        return self.seconds / self.subscribers * 1e6


def run_planner_pass(folder: Path, subscribers: int) -> PlannerPass:
    db_url = fresh_sqlite(folder, f"growth-{subscribers}.db")
    add_subscribers(
        db_url, subscribers, email_domain="growth.example", channel="web", now=NOW - timedelta(days=40)
    )
    plan_sessions(db_url, [SESSION], now=NOW - timedelta(days=30))
    clock = ManualClock(NOW)
    app = in_process_bot(db_url, clock)
    try:
        app.delivery.add_sender(RecordingSender(clock))
        began = time.perf_counter()
        app.delivery.plan()
        seconds = time.perf_counter() - began
        with app.db.read() as s:
            deliveries = s.scalar(select(func.count()).select_from(Delivery)) or 0
    finally:
        app.close()
    return PlannerPass(subscribers, seconds, deliveries)


def growth_figures(folder: Path, *, quick: bool = False) -> tuple[list[Figure], dict[str, object]]:
    """The figures of the growth phase (group "schedule") and their raw data."""
    planner_sizes, month_sizes = (
        (QUICK_PLANNER_SIZES, QUICK_MONTH_SIZES) if quick else (PLANNER_SIZES, MONTH_SIZES)
    )
    passes = [run_planner_pass(folder, n) for n in planner_sizes]
    months = [run_month(folder, n, f"growth-month-{n}.db") for n in month_sizes]
    figures = [
        Figure(
            "schedule",
            f"Planner pass: invitation to {p.subscribers:,} subscribers",
            round(p.seconds, 2),
            "s",
            target="linear or better",
            note=f"{p.per_subscriber_us:,.0f} µs per subscriber; {p.deliveries:,} delivery rows",
        )
        for p in passes
    ]
    figures += [
        Figure(
            "schedule",
            f"Month of a series, {m.subscribers:,} subscribers",
            round(m.wall_seconds, 2),
            "s",
            target="linear or better",
            note=(
                f"{1000 * m.wall_seconds / m.subscribers:,.2f} ms per subscriber; {m.sent:,} messages, "
                f"{m.steps} steps, {m.duplicates} duplicates"
            ),
        )
        for m in months
    ]
    for label, sizes, costs in (
        ("planner", [p.subscribers for p in passes], [p.seconds for p in passes]),
        ("month", [m.subscribers for m in months], [m.wall_seconds for m in months]),
    ):
        if len(sizes) > 1:  # cost per subscriber, largest list ÷ smallest: ≤ 1 is linear or better
            growth = (costs[-1] / sizes[-1]) / (costs[0] / sizes[0])
            figures.append(
                Figure(
                    "schedule",
                    f"{label.capitalize()}: cost per subscriber at {sizes[-1]:,} ÷ at {sizes[0]:,}",
                    round(growth, 2),
                    "×",
                    target="≤ 1 (linear or better)",
                    met=growth <= 1.0,
                    shown=f"{growth:.2f}×",
                )
            )
    raw: dict[str, object] = {
        "planner": [vars(p) | {"per_subscriber_us": round(p.per_subscriber_us, 1)} for p in passes],
        "month": [vars(m) for m in months],
    }
    return figures, raw
