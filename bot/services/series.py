"""Series: finding the one a command means, and creating new ones."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm.base import instance_state

from bot.db import KEPT
from bot.holidays import default_country, known_country
from bot.models import Series
from bot.services import audit
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.organisers import require_organiser
from bot.settings import LANGUAGES
from bot.views import SeriesView

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


# Asked by nearly every command: built once (see services.people).
_ALL = select(Series).order_by(Series.id)
_BY_SLUG = select(Series).where(Series.slug == bindparam("slug"))
_KEPT_SERIES = "series"


def all_series(ctx: Ctx) -> list[Series]:
    return list(ctx.s.scalars(_ALL))


def resolve_series(ctx: Ctx, slug: str | None) -> Series:
    """The series `slug` names; without one, the only series, or a question listing them.

    In a unit of a batch that changes no series (`Batch.unit`), the series found by an earlier
    such unit of the same transaction are taken again, without a round trip: a burst of
    subscribes reads them once per batch. Other units do not see them (they may change series)."""
    kept: dict[Any, Any] | None = ctx.s.info.get(KEPT)
    if kept is None:
        return _resolve(ctx, slug)
    key = (_KEPT_SERIES, slug.strip().lower() if slug is not None else None)
    found: Series | None = kept.get(key)
    if found is not None and _intact(found):
        return ctx.s.merge(found, load=False)
    series = _resolve(ctx, slug)
    kept[key] = series
    return series


def _intact(series: Series) -> bool:
    """Whether `series` (loaded by an earlier unit, whose session is closed) still holds the row it
    read: a unit rolled back expires what it loaded."""
    state = instance_state(series)
    return state.key is not None and not state.expired_attributes and not state.modified


def _resolve(ctx: Ctx, slug: str | None) -> Series:
    if slug is not None:
        found = ctx.s.scalar(_BY_SLUG, {"slug": slug.strip().lower()})
        if found is None:
            raise UserError("unknown_series", slug=slug, options=[SeriesView.of(x) for x in all_series(ctx)])
        return found
    options = all_series(ctx)
    if len(options) == 1:
        return options[0]
    if not options:
        raise UserError("no_series")
    raise UserError("which_series", options=[SeriesView.of(x) for x in options])


def create_series(
    ctx: Ctx, slug: str, name: str, language: str, timezone: str, country: str | None = None
) -> Series:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise UserError("bad_slug", slug=slug)
    check_language(language)
    _check_timezone(timezone)
    if ctx.s.scalar(select(func.count()).select_from(Series).where(Series.slug == slug)):
        raise UserError("series_exists", slug=slug)
    series = Series(
        slug=slug,
        name=name.strip(),
        language=language,
        timezone=timezone,
        country=_check_country(country) if country else default_country(language, timezone),
        created_at=ctx.now,
    )
    ctx.s.add(series)
    ctx.s.flush()
    audit.record(ctx, "series.created", series_id=series.id, subject=("series", series.id), slug=slug)
    return series


def check_language(language: str) -> str:
    """`language` if the bot speaks it; otherwise a refusal that lists the ones it does."""
    if language not in LANGUAGES:
        raise UserError("bad_language", language=language, supported=list(LANGUAGES))
    return language


def set_language(ctx: Ctx, series: Series, language: str) -> bool:
    """Change the language a series speaks to people who chose none; whether it changed."""
    check_language(language)
    if series.language == language:
        return False
    previous, series.language = series.language, language
    audit.record(
        ctx,
        "series.language_set",
        series_id=series.id,
        subject=("series", series.id),
        language=language,
        previous=previous,
    )
    return True


def edit_series(
    ctx: Ctx,
    series: Series,
    *,
    name: str | None,
    language: str | None,
    timezone: str | None,
    country: str | None = None,
) -> list[str]:
    """Change a series' name, language (as `set_language` does), time zone or country (whose
    holidays its rule skips); returns what changed. Sessions keep their moment in UTC: with a new
    time zone they show at the local time that moment is there."""
    require_organiser(ctx, series)
    wanted: dict[str, str] = {}
    if name is not None:
        if not name.strip():
            raise UserError("missing_name")
        wanted["name"] = name.strip()
    if timezone is not None:
        wanted["timezone"] = _check_timezone(timezone)
    if country is not None:
        wanted["country"] = _check_country(country)
    changed = ["language"] if language is not None and set_language(ctx, series, language) else []
    others = [key for key, value in wanted.items() if getattr(series, key) != value]
    for key in others:
        setattr(series, key, wanted[key])
    if others:
        audit.record(
            ctx,
            "series.changed",
            series_id=series.id,
            subject=("series", series.id),
            changed={key: wanted[key] for key in others},
        )
    return changed + others


def _check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError("bad_timezone", timezone=timezone) from exc
    return timezone


def _check_country(country: str) -> str:
    code = country.strip().upper()
    if not known_country(code):
        raise UserError("bad_country", country=country)
    return code
