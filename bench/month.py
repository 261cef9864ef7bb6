"""A month of a monthly series in simulated time (`tests/delivery/helpers.simulate`, ManualClock), with
a recording channel that reaches every subscriber: the wall time it takes, and what it sent. Rule-made
sessions are drafts that send nothing until titled: the organiser titles each as soon as asked."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bench.common import fresh_sqlite, in_process_bot
from bench.population import add_subscribers
from bot.clock import ManualClock
from bot.commands import Actor
from bot.models import Session
from bot.parser import parse
from tests.delivery.helpers import delivery_states, simulate
from tests.fakes.recording_sender import RecordingSender

# Wednesday 4 March 2026, 10:00 UTC; the month holds Friday 6 March's session and April's invitation.
START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
ORGANISER = Actor("console", "org@kommune.no", email="org@kommune.no", is_operator=True)


@dataclass
class Month:
    wall_seconds: float
    steps: int
    subscribers: int
    sent: int
    duplicates: int
    states: dict[str, int]


def run_month(folder: Path, subscribers: int = 1000, db_name: str = "month.db") -> Month:
    """`db_name`: a file not used before in `folder` (a second run on the same one sends nothing)."""
    db_url = fresh_sqlite(folder, db_name)
    add_subscribers(
        db_url, subscribers, email_domain="month.example", channel="web", now=START - timedelta(days=40)
    )
    clock = ManualClock(START)
    app = in_process_bot(db_url, clock)
    try:
        sender = RecordingSender(clock)
        app.delivery.add_sender(sender)
        for line in ("gjentakelse første fredag i måneden 09:00-10:00", "gi arrangør org@kommune.no"):
            app.dispatcher.execute(ORGANISER, parse(line))

        def title_drafts() -> None:
            with app.db.read() as s:
                drafts = list(s.scalars(select(Session.id).where(Session.status == "draft")))
            for draft in drafts:
                app.dispatcher.execute(ORGANISER, parse(f"endre økt {draft} tittel=Økt {draft}"))

        began = time.perf_counter()
        steps = simulate(app, clock, START + timedelta(days=31), on_step=title_drafts)
        wall = time.perf_counter() - began
        return Month(
            wall, steps, subscribers, len(sender.sent), len(sender.duplicates()), delivery_states(app)
        )
    finally:
        app.close()
