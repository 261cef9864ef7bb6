"""The ranges of numbers, dates and ids the bot takes from outside, wherever they are parsed.

Ids are the database's (a PostgreSQL `integer`: 1 to 2^31-1); a date outside a sane window would
either overflow Python's dates when a reminder or the time zone is applied (year 1, 9999) or plan
something nobody will attend, so the window is 2000-01-01 to 2100-12-31.
"""

from __future__ import annotations

from datetime import date, datetime

MAX_ID = 2**31 - 1
MAX_PLATFORM_ID = 255  # Slack's ids are about 11 characters, Teams' about 100
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def id_in_range(value: int) -> bool:
    return 0 < value <= MAX_ID


def day_in_range(value: date | datetime) -> bool:
    day = value.date() if isinstance(value, datetime) else value
    return FIRST_DAY <= day <= LAST_DAY


def parse_id(text: str) -> int | None:
    """An id written as plain ASCII digits, within range; None for anything else."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if id_in_range(value) else None


def is_platform_id(text: str) -> bool:
    """A user id as a platform writes it: printable, without spaces, not absurdly long."""
    return 0 < len(text) <= MAX_PLATFORM_ID and text.isprintable() and not any(ch.isspace() for ch in text)
