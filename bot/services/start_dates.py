"""A start as people write it (`fredag 5/3 kl. 9`) to a wall-clock start in the series' time zone.

The parser cannot know today, so a date without a year or with a weekday arrives as an `OpenStart`:
here it becomes the next such day (from now, in the series' time zone), and a weekday that does not
match the date is refused with both named, rather than guessed at.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from bot.commands import OpenStart, SessionFields
from bot.services.errors import UserError
from bot.services.timezones import utc_to_local

_YEARS_AHEAD = 8  # 29 February comes again within this many years


def settle(fields: SessionFields, timezone: str, now: datetime) -> SessionFields:
    """`fields` with an open start settled into `start_local` (unchanged without one)."""
    written = fields.open_start
    if written is None:
        return fields
    start = _settled(written, utc_to_local(now, timezone).replace(tzinfo=None))
    if written.weekday is not None and start.weekday() != written.weekday:
        raise UserError(
            "weekday_mismatch", date=start.date(), written=written.weekday, actual=start.weekday()
        )
    return replace(fields, start_local=start, open_start=None)


def _settled(written: OpenStart, today: datetime) -> datetime:
    if written.year is not None:
        return datetime.combine(date(written.year, written.month, written.day), written.at)
    for year in range(today.year, today.year + _YEARS_AHEAD + 1):
        try:
            start = datetime.combine(date(year, written.month, written.day), written.at)
        except ValueError:  # 29 February of a common year
            continue
        if start > today:
            return start
    raise UserError("missing_start")  # unreachable for a date the parser let through
