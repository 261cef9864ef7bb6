"""Read-only lookups for the public web pages (archive, calendar feed, unsubscribe links)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.models import Person, Series, Session, SessionStatus
from bot.services.context import Ctx
from bot.services.subscriptions import subscription_of

# Sessions last at most a day (see services.sessions), so one that started earlier has ended.
LONGEST_SESSION = timedelta(days=1)


def series_by_slug(ctx: Ctx, slug: str) -> Series | None:
    return ctx.s.scalar(select(Series).where(Series.slug == slug.strip().lower()))


def series_by_id(ctx: Ctx, series_id: int) -> Series | None:
    return ctx.s.get(Series, series_id)


def calendar_sessions(ctx: Ctx, series: Series, since: datetime) -> list[Session]:
    """Every session of `series` (cancelled ones too, drafts not) that ends after `since`, oldest first."""
    rows = ctx.s.scalars(
        select(Session)
        .where(
            Session.series_id == series.id,
            Session.start_at >= since - LONGEST_SESSION,
            Session.status != SessionStatus.DRAFT.value,
        )
        .order_by(Session.start_at, Session.id)
    )
    return [x for x in rows if x.end_at > since]


def programme(ctx: Ctx, series: Series, limit: int = 100) -> list[Session]:
    """The season ahead: every session of `series` not yet over, oldest first; drafts are left out,
    cancelled ones kept (the page marks them), as in the calendar feed."""
    return calendar_sessions(ctx, series, ctx.now)[:limit]


def person_email(ctx: Ctx, person_id: int) -> str | None:
    """The vouched-for address of a person; None when unknown or erased."""
    person = ctx.s.get(Person, person_id)
    return person.email if person is not None else None


def is_subscribed(ctx: Ctx, person_id: int, series: Series) -> bool:
    person = ctx.s.get(Person, person_id)
    sub = subscription_of(ctx, person, series) if person is not None else None
    return bool(sub and sub.active)
