"""Series with a recurrence rule get their next sessions created ahead, as drafts: organisers are asked
to give each a title, and reminded before its invitation would be due; subscribers see nothing and get
nothing until one does. A day that is a public holiday in the series' country is skipped."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from bot.commands import SessionFields
from bot.delivery import kinds
from bot.delivery.durations import parse_offset
from bot.delivery.fanouts import notify_organisers
from bot.holidays import holiday
from bot.models import Series, Session, SessionStatus
from bot.recurrence import next_occurrences
from bot.services.context import Ctx
from bot.services.sessions import add_session
from jobs.context import JobContext
from jobs.housekeeping import SCHEDULER

log = logging.getLogger(__name__)

HORIZON = timedelta(weeks=6)
# A draft still without a title this long before its invitation would be due: organisers are reminded.
DRAFT_REMINDER = timedelta(days=3)


def create_recurring_sessions(app: JobContext) -> list[int]:
    """Create the draft sessions each recurring series has in the next six weeks (none on a public
    holiday), and remind organisers of drafts soon due; returns the ids of the sessions created."""
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
            for start in _free_occurrences(s, series, now):
                local = start.astimezone(ZoneInfo(series.timezone)).replace(tzinfo=None)
                session = add_session(
                    ctx, series, SessionFields(title=series.name, start_local=local), draft=True
                )
                created.append(session.id)
                _ask_organisers(app, s, series, session, now, f"s{session.id}:topic_needed", {})
                log.info("created draft session %s of %s at %s", session.id, series.slug, start.isoformat())
    reminded = _remind_of_drafts(app, now)
    if created or reminded:
        app.delivery.wake()
    return created


def _free_occurrences(s: OrmSession, series: Series, now: datetime) -> list[datetime]:
    """The rule's next occurrences within the horizon on a day with no session and no holiday."""
    tz = ZoneInfo(series.timezone)
    found = []
    for start in next_occurrences(
        series.recurrence or "", series.default_start_time, series.timezone, now, 3
    ):
        day = start.astimezone(tz).date()
        if start > now + HORIZON or _has_session_on(s, series, day, tz):
            continue
        name = holiday(day, series.country)
        if name is not None:
            log.info(
                "%s: no session on %s, a public holiday in %s (%s)", series.slug, day, series.country, name
            )
            continue
        found.append(start)
    return found


def _remind_of_drafts(app: JobContext, now: datetime) -> int:
    """Ask organisers once more about each draft whose invitation would be due within DRAFT_REMINDER."""
    reminded = 0
    with app.db.transaction() as s:
        drafts = s.scalars(
            select(Session).where(Session.status == SessionStatus.DRAFT.value, Session.start_at > now)
        )
        for session in drafts:
            series = session.series
            invitation = parse_offset(series.invitation_offset).before(session.start_at, series.timezone)
            # One created within that time already had its organisers asked: no second notice.
            if session.created_at < invitation - DRAFT_REMINDER <= now:
                key = f"s{session.id}:draft_reminder"
                reminded += _ask_organisers(app, s, series, session, now, key, {"reminder": True})
    return reminded


def _ask_organisers(
    app: JobContext,
    s: OrmSession,
    series: Series,
    session: Session,
    now: datetime,
    key: str,
    extra: dict[str, object],
) -> bool:
    """Ask the series' organisers (once per `key`) to give the draft its title."""
    return notify_organisers(
        s,
        app.delivery.senders,
        series,
        session.id,
        kinds.TOPIC_NEEDED,
        key,
        {"start": session.start_at.isoformat(), **extra},
        now,
    )


def _has_session_on(s: OrmSession, series: Series, day: date, tz: ZoneInfo) -> bool:
    """Any session of the series on that local day (planned by hand or created before)."""
    starts = s.scalars(select(Session.start_at).where(Session.series_id == series.id))
    return any(start.astimezone(tz).date() == day for start in starts)
