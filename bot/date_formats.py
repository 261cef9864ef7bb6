"""Dates and times in the reader's language, from a few names per language.

The texts need only weekday and month names and numbers. Babel would give them from the full
Unicode CLDR data of each language, which it keeps loaded once used: about 4 MB for Norwegian
Bokmål and 6 MB for all four, in every process that renders a message. The names here are those
CLDR gives (tests/core/test_date_formats.py checks them, and every format, against Babel).
"""

from __future__ import annotations

from datetime import datetime

# Monday first, as `datetime.weekday()`; January first.
_NORWEGIAN_MONTHS = (
    "januar", "februar", "mars", "april", "mai", "juni",
    "juli", "august", "september", "oktober", "november", "desember",
)  # fmt: skip
DAYS: dict[str, tuple[str, ...]] = {
    "nb": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "da": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "nn": ("måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag", "søndag"),
}
MONTHS: dict[str, tuple[str, ...]] = {
    "nb": _NORWEGIAN_MONTHS,
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "da": (
        "januar",
        "februar",
        "marts",
        "april",
        "maj",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "nn": _NORWEGIAN_MONTHS,
}

# Per language: `when` a moment, `date` its day, `day` the day without the year (for a second
# mention in the same text), `short` for a notification line.
PATTERNS: dict[str, dict[str, str]] = {
    "nb": {
        "when": "{weekday} {d}. {month} {y} kl. {H:02d}:{M:02d}",
        "date": "{weekday} {d}. {month} {y}",
        "day": "{weekday} {d}. {month}",
        "short": "{d}.{m}.{y} {H:02d}:{M:02d}",
    },
    "en": {
        "when": "{weekday} {d} {month} {y} at {H:02d}:{M:02d}",
        "date": "{weekday} {d} {month} {y}",
        "day": "{weekday} {d} {month}",
        "short": "{d}/{m}/{y} {H:02d}:{M:02d}",
    },
    "da": {
        "when": "{weekday} den {d}. {month} {y} kl. {H:02d}:{M:02d}",
        "date": "{weekday} den {d}. {month} {y}",
        "day": "{weekday} den {d}. {month}",
        "short": "{d}.{m}.{y} {H:02d}:{M:02d}",
    },
    "nn": {
        "when": "{weekday} {d}. {month} {y} kl. {H:02d}:{M:02d}",
        "date": "{weekday} {d}. {month} {y}",
        "day": "{weekday} {d}. {month}",
        "short": "{d}.{m}.{y} {H:02d}:{M:02d}",
    },
}


def format_moment(value: datetime, language: str, kind: str) -> str:
    """`value` (already in the reader's time zone) as PATTERNS[language][kind] says."""
    return PATTERNS[language][kind].format(
        weekday=DAYS[language][value.weekday()],
        month=MONTHS[language][value.month - 1],
        d=value.day,
        m=value.month,
        y=value.year,
        H=value.hour,
        M=value.minute,
    )


def weekday_name(language: str, index: int) -> str:
    """0 Monday … 6 Sunday."""
    return DAYS[language][index]


def month_name(language: str, number: int) -> str:
    """1 January … 12 December."""
    return MONTHS[language][number - 1]
