"""Monthly recurrence rules: `Recurrence` to RFC 5545 RRULE text and back, and the next dates.

A rule is stored as RRULE text without DTSTART (e.g. `FREQ=MONTHLY;BYDAY=1FR;BYMONTH=1,2,3`); its
time of day and zone live with the series. Occurrences are computed on the local wall clock and only
then converted to UTC, so DST never moves a session: 09:00 Europe/Oslo is 08:00Z in winter and
07:00Z in summer.

DST edge cases are resolved as zoneinfo does for `fold=0`, the same as
`bot.services.timezones.local_to_utc` for a repeated time:
- a local time a DST change skips (02:30 on the last Sunday of March in Europe/Oslo) is read with
  the offset before the change, which moves it forward by the gap (to 03:30 local, 01:30Z);
- a local time that happens twice (02:30 on the last Sunday of October) is its first instance
  (summer time, 00:30Z).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from bot.commands import Recurrence

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
ORDINALS = frozenset({1, 2, 3, 4, -1})
ALL_MONTHS = frozenset(range(1, 13))

_BYDAY = re.compile(r"([+-]?[1-4])(MO|TU|WE|TH|FR|SA|SU)")


def _check(rule: Recurrence) -> None:
    """Refuse a rule that RRULE cannot express or that never happens."""
    if rule.ordinal not in ORDINALS:
        raise ValueError(f"ordinal must be 1-4 or -1, not {rule.ordinal}")
    if not 0 <= rule.weekday <= 6:
        raise ValueError(f"weekday must be 0-6, not {rule.weekday}")
    if not rule.skip_months <= ALL_MONTHS:
        raise ValueError(f"skip_months must be within 1-12: {sorted(rule.skip_months)}")
    if rule.skip_months == ALL_MONTHS:
        raise ValueError("a rule that skips every month never happens")
    if rule.end <= rule.start:
        raise ValueError("a rule must end after it starts")


def to_rrule(rule: Recurrence) -> str:
    """The RRULE for `rule`: the months it runs in as BYMONTH, left out when it runs in all."""
    _check(rule)
    parts = ["FREQ=MONTHLY", f"BYDAY={rule.ordinal}{WEEKDAY_CODES[rule.weekday]}"]
    if rule.skip_months:
        months = sorted(ALL_MONTHS - rule.skip_months)
        parts.append("BYMONTH=" + ",".join(str(month) for month in months))
    return ";".join(parts)


def _rrule_parts(rrule: str) -> dict[str, str]:
    """`FREQ=MONTHLY;BYDAY=1FR` to {"FREQ": "MONTHLY", "BYDAY": "1FR"}; an `RRULE:` prefix is allowed."""
    text = rrule.strip()
    if text[:6].upper() == "RRULE:":
        text = text[6:]
    parts: dict[str, str] = {}
    for part in text.split(";"):
        key, equals, value = part.partition("=")
        key = key.strip().upper()
        if not equals or not key or key in parts:
            raise ValueError(f"not an RRULE this bot writes: {rrule!r}")
        parts[key] = value.strip().upper()
    return parts


def _end(start: time, duration_minutes: int) -> time:
    """`start` plus `duration_minutes`, which must end on the same day."""
    begin = datetime.combine(date(2000, 1, 1), start.replace(tzinfo=None))
    finish = begin + timedelta(minutes=duration_minutes)
    if duration_minutes < 1 or finish.date() != begin.date():
        raise ValueError(f"a {duration_minutes}-minute session from {start} does not end that day")
    return finish.time()


def from_rrule(rrule: str, start: time, duration_minutes: int) -> Recurrence:
    """The `Recurrence` an RRULE from `to_rrule` stands for, with the series' start and duration."""
    parts = _rrule_parts(rrule)
    byday = _BYDAY.fullmatch(parts.get("BYDAY", ""))
    if parts.get("FREQ") != "MONTHLY" or byday is None or set(parts) - {"FREQ", "BYDAY", "BYMONTH"}:
        raise ValueError(f"not a monthly rule this bot writes: {rrule!r}")
    months = ALL_MONTHS
    if "BYMONTH" in parts:
        try:
            months = frozenset(int(month) for month in parts["BYMONTH"].split(","))
        except ValueError:
            raise ValueError(f"bad BYMONTH in {rrule!r}") from None
        if not months <= ALL_MONTHS:
            raise ValueError(f"BYMONTH outside 1-12 in {rrule!r}")
    rule = Recurrence(
        ordinal=int(byday[1]),
        weekday=WEEKDAY_CODES.index(byday[2]),
        start=start.replace(tzinfo=None),
        end=_end(start, duration_minutes),
        skip_months=ALL_MONTHS - months,
    )
    _check(rule)
    return rule


def to_utc(local: datetime, tz: str) -> datetime:
    """A naive wall-clock time in `tz` to aware UTC (a skipped time moves forward, a repeated one
    is its first instance)."""
    return local.replace(tzinfo=ZoneInfo(tz), fold=0).astimezone(UTC)


def next_occurrences(rrule: str, start: time, tz: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` occurrences strictly after `after`, as aware UTC datetimes.

    `rrule` runs on the wall clock of `tz` at the local time `start`; `after` must be aware.
    """
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    if count <= 0:
        return []
    local_after = after.astimezone(ZoneInfo(tz))
    # Start a day early: where a DST gap pushes a late-evening time past midnight, an occurrence
    # dated the day before `after` (local) can still fall after it.
    first_day = local_after.date() - timedelta(days=1)
    dtstart = datetime.combine(first_day, start.replace(tzinfo=None))
    found: list[datetime] = []
    for local in rrulestr(rrule, dtstart=dtstart):
        moment = to_utc(local, tz)
        if moment > after:
            found.append(moment)
            if len(found) == count:
                break
    return found
