"""Sessions of a series: planning, changing, cancelling, and finding the next and the past ones."""

from __future__ import annotations

from dataclasses import fields as dc_fields
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.orm import joinedload

from bot.bounds import day_in_range, id_in_range
from bot.commands import SessionFields
from bot.db import KEPT
from bot.models import PresentationLink, Series, Session, SessionStatus
from bot.services import audit, start_dates
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.organisers import require_organiser
from bot.services.timezones import local_to_utc
from bot.views import LinkView, SeriesView, SessionView

# The description's limit is the most any form can hold (Slack's text input: 3000), so whatever was
# entered can be shown and sent again where it is edited.
LIMITS = {"title": 300, "topic": 200, "speakers": 500, "description": 3000, "join_url": 2000}
# A change to one of these is a change to the calendar entry (raises SEQUENCE).
CALENDAR_CHANGES = ("title", "start", "duration_minutes", "description", "join_url")


def _check(fields: SessionFields) -> None:
    if fields.start_local is not None and not day_in_range(fields.start_local):
        raise UserError("date_out_of_range")
    for name, limit in LIMITS.items():
        value = getattr(fields, name)
        if value is not None and len(value) > limit:
            raise UserError("too_long", field=name, limit=limit)
    if fields.title is not None and not fields.title.strip():
        raise UserError("missing_title")
    if fields.duration_minutes is not None and not 1 <= fields.duration_minutes <= 1440:
        raise UserError("bad_duration", duration=fields.duration_minutes)
    if fields.join_url:
        parts = urlsplit(fields.join_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UserError("bad_url", url=fields.join_url)


def get_session(ctx: Ctx, session_id: int) -> Session:
    session = ctx.s.get(Session, session_id) if id_in_range(session_id) else None
    if session is None:
        raise UserError("unknown_session", session_id=session_id)
    return session


def add_session(
    ctx: Ctx,
    series: Series,
    fields: SessionFields,
    *,
    allow_past: bool = False,
    force: bool = False,
    draft: bool = False,
) -> Session:
    """Plan a session. One that overlaps another of the series is refused unless `force`d; a
    `draft` (made by a recurrence rule) is seen by organisers only and sends nothing until one
    gives it a title."""
    require_organiser(ctx, series)
    fields = start_dates.settle(fields, series.timezone, ctx.now)
    _check(fields)
    if fields.start_local is None:
        raise UserError("missing_start")
    if not fields.title:
        raise UserError("missing_title")
    start = local_to_utc(fields.start_local, series.timezone)
    duration = fields.duration_minutes or series.default_duration_minutes
    if start + timedelta(minutes=duration) <= ctx.now and not allow_past:
        raise UserError("start_in_past", start=start)
    if not force:
        _refuse_clash(ctx, series, start, duration)
    if start + timedelta(minutes=duration) <= ctx.now:
        status = SessionStatus.HELD
    else:
        status = SessionStatus.DRAFT if draft else SessionStatus.SCHEDULED
    session = Session(
        series=series,
        title=fields.title.strip(),
        topic=fields.topic,
        speakers=fields.speakers,
        description=fields.description,
        start_at=start,
        duration_minutes=duration,
        join_url=fields.join_url,
        status=status.value,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.s.add(session)
    ctx.s.flush()
    audit.record(
        ctx,
        "session.created",
        series_id=series.id,
        subject=("session", session.id),
        start=start.isoformat(),
        status=session.status,
        forced=force,
    )
    return session


def clashes(
    ctx: Ctx, series: Series, start: datetime, duration: int, but: int | None = None
) -> list[Session]:
    """The series' other sessions (not cancelled) whose time overlaps [start, start + duration)."""
    end = start + timedelta(minutes=duration)
    rows = ctx.s.scalars(
        select(Session).where(
            Session.series_id == series.id,
            Session.status != SessionStatus.CANCELLED.value,
            Session.start_at < end,
            Session.start_at > start - timedelta(days=1),  # none lasts longer than a day
        )
    )
    return [x for x in rows if x.id != but and x.end_at > start]


def _refuse_clash(ctx: Ctx, series: Series, start: datetime, duration: int, but: int | None = None) -> None:
    found = clashes(ctx, series, start, duration, but)
    if found:
        raise UserError("session_clash", other=SessionView.of(found[0]))


def change_session(
    ctx: Ctx, session_id: int, fields: SessionFields, *, force: bool = False
) -> tuple[Session, list[str]]:
    """Apply the given fields; returns the session and the names of what changed. A new time that
    overlaps another session of the series is refused unless `force`d. A draft given a title is
    planned from then on: subscribers see it and get its messages."""
    session = get_session(ctx, session_id)
    require_organiser(ctx, session.series)
    if session.status == SessionStatus.CANCELLED.value:
        raise UserError("session_cancelled", session_id=session.id)
    fields = start_dates.settle(fields, session.series.timezone, ctx.now)
    _check(fields)
    changed: list[str] = []
    for f in dc_fields(fields):
        value = getattr(fields, f.name)
        if value is None:
            continue
        if f.name == "start_local":
            start = local_to_utc(value, session.series.timezone)
            if start != session.start_at:
                if start <= ctx.now:
                    raise UserError("start_in_past", start=start)
                session.start_at = start
                changed.append("start")
            continue
        attr = f.name
        new = value.strip() if isinstance(value, str) else value
        if getattr(session, attr) != new:
            setattr(session, attr, new)
            changed.append(attr)
    if not force and ("start" in changed or "duration_minutes" in changed):
        _refuse_clash(ctx, session.series, session.start_at, session.duration_minutes, but=session.id)
    if session.status == SessionStatus.DRAFT.value and fields.title is not None:
        session.status = SessionStatus.SCHEDULED.value  # titled: planned from now on
        if "title" not in changed:
            changed.append("title")
    if not changed:
        return session, changed
    if any(name in changed for name in CALENDAR_CHANGES):
        session.sequence += 1
    session.updated_at = ctx.now
    ctx.s.flush()
    audit.record(
        ctx,
        "session.changed",
        series_id=session.series_id,
        subject=("session", session.id),
        fields=changed,
        start=session.start_at.isoformat(),
    )
    return session, changed


def cancel_session(ctx: Ctx, session_id: int) -> tuple[Session, bool]:
    """Cancel; returns (session, False) when it already was cancelled."""
    session = get_session(ctx, session_id)
    require_organiser(ctx, session.series)
    if session.status == SessionStatus.CANCELLED.value:
        return session, False
    if session.end_at <= ctx.now:
        raise UserError("session_over", session_id=session.id)
    session.status = SessionStatus.CANCELLED.value
    session.sequence += 1
    session.updated_at = ctx.now
    audit.record(ctx, "session.cancelled", series_id=session.series_id, subject=("session", session.id))
    return session, True


# What subscribers never see: cancelled sessions, and drafts until an organiser titles them.
UNSEEN = (SessionStatus.CANCELLED.value, SessionStatus.DRAFT.value)


# Asked by most commands' replies: built once (see services.people), with the links the reply
# shows (SessionView) in the same query.
_FROM = (
    select(Session)
    .options(joinedload(Session.links))
    .where(
        Session.series_id == bindparam("series"),
        Session.status.not_in(UNSEEN),
        Session.start_at >= bindparam("since"),
    )
    .order_by(Session.start_at)
)


def next_session(ctx: Ctx, series: Series) -> Session | None:
    """The session running now or the first one to come; cancelled ones and drafts are left out."""
    candidates = ctx.s.scalars(_FROM, {"series": series.id, "since": ctx.now - timedelta(days=1)}).unique()
    return next((x for x in candidates if x.end_at > ctx.now), None)


# The same as plain rows, each session with its links (one row a link, at least one a session):
# most commands' replies show the next session, and loading it and its links as mapped objects was
# a sixth of a subscribe's CPU.
_SESSION = cast(Table, Session.__table__)
_LINK = cast(Table, PresentationLink.__table__)
_KEPT_NEXT = "next session"
_FROM_ROWS = (
    select(_SESSION, _LINK.c.id.label("link_id"), _LINK.c.title.label("link_title"))
    .add_columns(_LINK.c.speaker.label("link_speaker"), _LINK.c.url.label("link_url"))
    .add_columns(_LINK.c.kind.label("link_kind"))
    .outerjoin(_LINK, _LINK.c.session_id == _SESSION.c.id)
    .where(
        _SESSION.c.series_id == bindparam("series"),
        _SESSION.c.status.not_in(UNSEEN),
        _SESSION.c.start_at >= bindparam("since"),
    )
    .order_by(_SESSION.c.start_at, _SESSION.c.id, _LINK.c.id)
)


def next_session_view(ctx: Ctx, series: Series) -> SessionView | None:
    """`next_session` as the view a reply shows, read as plain rows.

    In a unit of a batch that changes no series or session (`Batch.unit`), the view an earlier such
    unit of the same transaction found is taken again while it still holds: the session it names
    has not ended (the ones before it had ended already), or there was none."""
    kept: dict[Any, Any] | None = ctx.s.info.get(KEPT)
    key = (_KEPT_NEXT, series.id)
    if kept is not None and key in kept:
        found_at, view = kept[key]
        if found_at <= ctx.now and (view is None or _holds(view, ctx.now)):
            return cast(SessionView | None, view)
    view = _next_session_view(ctx, series)
    if kept is not None:
        kept[key] = (ctx.now, view)
    return view


def _holds(view: SessionView, now: datetime) -> bool:
    """Whether `next_session_view` would find `view` again at `now`."""
    return view.end > now and view.start >= now - timedelta(days=1)


def _next_session_view(ctx: Ctx, series: Series) -> SessionView | None:
    rows = ctx.s.execute(_FROM_ROWS, {"series": series.id, "since": ctx.now - timedelta(days=1)})
    found: Row[Any] | None = None
    links: list[LinkView] = []
    for row in rows:
        if found is not None and row.id != found.id:
            break
        if found is None:
            if row.start_at + timedelta(minutes=row.duration_minutes) <= ctx.now:
                continue
            found = row
        if row.link_id is not None:
            links.append(LinkView(row.link_id, row.link_title, row.link_speaker, row.link_url, row.link_kind))
    rows.close()
    if found is None:
        return None
    return SessionView.of_row(found.id, found, SeriesView.of(series), links)


def upcoming_sessions(ctx: Ctx, series: Series | None = None, limit: int = 50) -> list[Session]:
    query = select(Session).where(Session.start_at >= ctx.now - timedelta(days=1))
    if series is not None:
        query = query.where(Session.series_id == series.id)
    rows = ctx.s.scalars(query.order_by(Session.start_at).limit(limit + 10))
    return [x for x in rows if x.end_at > ctx.now][:limit]


def past_sessions(ctx: Ctx, series: Series, limit: int = 10) -> list[Session]:
    """Sessions that took place, newest first (cancelled ones and drafts left out)."""
    rows = ctx.s.scalars(
        select(Session)
        .where(
            Session.series_id == series.id,
            Session.status.not_in(UNSEEN),
            Session.start_at <= ctx.now,
        )
        .order_by(Session.start_at.desc())
        .limit(limit + 1)
    )
    return [x for x in rows if x.end_at <= ctx.now][:limit]


def mark_held(ctx: Ctx) -> list[int]:
    """Scheduled sessions whose end has passed become held; returns their ids."""
    rows = ctx.s.scalars(
        select(Session).where(Session.status == SessionStatus.SCHEDULED.value, Session.start_at <= ctx.now)
    )
    done: list[int] = []
    for session in rows:
        if session.end_at <= ctx.now:
            session.status = SessionStatus.HELD.value
            session.updated_at = ctx.now
            audit.record(ctx, "session.held", series_id=session.series_id, subject=("session", session.id))
            done.append(session.id)
    return done


def list_sessions(ctx: Ctx, series: Series | None) -> list[Session]:
    query = select(Session).order_by(Session.start_at)
    if series is not None:
        query = query.where(Session.series_id == series.id)
    return list(ctx.s.scalars(query))
