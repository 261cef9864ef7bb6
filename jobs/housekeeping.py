"""Small periodic upkeep of stored state."""

from __future__ import annotations

from bot.commands import Actor
from bot.services.context import Ctx
from bot.services.sessions import mark_held
from jobs.context import JobContext

SCHEDULER = Actor(platform="scheduler", external_id="housekeeping", is_operator=True)


def mark_sessions_held(app: JobContext) -> list[int]:
    """Sessions whose end has passed become `held`, so slides can follow and the archive shows them."""
    with app.db.transaction() as s:
        return mark_held(Ctx(s, SCHEDULER, app.clock.now(), app.config))
