"""Series with a recurrence rule get their next sessions created ahead, and organisers are asked
to fill in the topic."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from bot.commands import SessionFields
from bot.delivery import kinds
from bot.delivery.fanouts import notify_organisers
from bot.models import Series, Session
from bot.recurrence import next_occurrences
from bot.services.context import Ctx
from bot.services.sessions import add_session
from jobs.context import JobContext
from jobs.housekeeping import SCHEDULER

log = logging.getLogger(__name__)

HORIZON = timedelta(weeks=6)


def create_recurring_sessions(app: JobContext) -> list[int]:
    """Create the sessions each recurring series has in the next six weeks; returns their ids."""
    created: list[int] = []
    now = app.clock.now()
    with app.db.read() as s:
        series_ids = list(s.scalars(select(Series.id).where(Series.recurrence.is_not(None))))
    for series_id in series_ids:
        with app.db.transaction() as s:
            series = s.get(Series, series_id)
            if series is None or not series.recurrence:
                continue
            ctx = Ctx(s, SCHEDULER, now, app.config)
            tz = ZoneInfo(series.timezone)
            for start in next_occurrences(
                series.recurrence, series.default_start_time, series.timezone, now, 3
            ):
                if start > now + HORIZON or _has_session_on(s, series, start.astimezone(tz).date(), tz):
                    continue
                fields = SessionFields(
                    title=series.name, start_local=start.astimezone(tz).replace(tzinfo=None)
                )
                session = add_session(ctx, series, fields)
                created.append(session.id)
                notify_organisers(
                    s,
                    app.delivery.senders,
                    series,
                    session.id,
                    kinds.TOPIC_NEEDED,
                    f"s{session.id}:topic_needed",
                    {"start": session.start_at.isoformat()},
                    now,
                )
                log.info("created session %s of %s at %s", session.id, series.slug, start.isoformat())
    if created:
        app.delivery.wake()
    return created


def _has_session_on(s: OrmSession, series: Series, day: date, tz: ZoneInfo) -> bool:
    """Any session of the series on that local day (planned by hand or created before)."""
    starts = s.scalars(select(Session.start_at).where(Session.series_id == series.id))
    return any(start.astimezone(tz).date() == day for start in starts)
