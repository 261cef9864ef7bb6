"""Offsets such as "7d", "1d,1h" or "90m". Days are wall-clock days in the series' time zone, so a
reminder "1d" before a 09:00 session is at 09:00 the day before, across a DST change too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_OFFSET = re.compile(r"^\s*(\d{1,5})\s*([smhd])\s*$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, order=True)
class Offset:
    amount: int
    unit: str

    @property
    def seconds(self) -> int:
        return self.amount * SECONDS[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def before(self, moment: datetime, timezone: str) -> datetime:
        return self._shift(moment, timezone, -1)

    def after(self, moment: datetime, timezone: str) -> datetime:
        return self._shift(moment, timezone, 1)

    def _shift(self, moment: datetime, timezone: str, sign: int) -> datetime:
        if self.unit != "d":
            return moment + sign * timedelta(seconds=self.seconds)
        tz = ZoneInfo(timezone)
        local = moment.astimezone(tz).replace(tzinfo=None) + sign * timedelta(days=self.amount)
        return local.replace(tzinfo=tz).astimezone(UTC)


def parse_offset(text: str) -> Offset:
    match = _OFFSET.match(text.lower())
    if not match:
        raise ValueError(f"{text.strip()!r} is not a duration such as 30m, 1h or 7d")
    return Offset(int(match.group(1)), match.group(2))


def parse_offsets(text: str) -> tuple[Offset, ...]:
    """A comma-separated list, largest first, without duplicates; empty text means none."""
    parts = [p for p in text.split(",") if p.strip()]
    offsets = {parse_offset(p) for p in parts}
    return tuple(sorted(offsets, key=lambda o: o.seconds, reverse=True))


def format_offsets(offsets: tuple[Offset, ...]) -> str:
    return ",".join(str(o) for o in offsets)
