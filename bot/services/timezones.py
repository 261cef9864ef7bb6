"""Wall-clock times in a series' zone to UTC and back, refusing times a DST change skips."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.services.errors import UserError


def local_to_utc(local: datetime, timezone: str) -> datetime:
    """A naive local time to aware UTC. A time skipped by DST is refused; a repeated one takes
    the first (summer-time) instance."""
    tz = ZoneInfo(timezone)
    aware = local.replace(tzinfo=tz, fold=0)
    as_utc = aware.astimezone(UTC)
    if as_utc.astimezone(tz).replace(tzinfo=None) != local.replace(fold=0):
        raise UserError("nonexistent_time", local=local, timezone=timezone)
    return as_utc


def utc_to_local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))
