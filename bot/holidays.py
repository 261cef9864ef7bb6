"""Public holidays per country (the `holidays` package), so a recurrence rule never plans a session on
New Year's Day or 17 May; and the country a series gets when none is given."""

from __future__ import annotations

from datetime import date
from functools import cache

# The `holidays` package (its country table is large) is imported when a holiday is looked up.

# A series without a country: Denmark in Copenhagen's time zone or in Danish, else Norway.
DANISH_ZONES = frozenset({"Europe/Copenhagen"})


def default_country(language: str, timezone: str) -> str:
    return "DK" if timezone in DANISH_ZONES or language == "da" else "NO"


def known_country(code: str) -> bool:
    import holidays as calendar

    return code in calendar.list_supported_countries()


@cache
def _year(country: str, year: int) -> dict[date, str]:
    import holidays as calendar

    return dict(calendar.country_holidays(country, years=year, language="en_US").items())


def holiday(day: date, country: str) -> str | None:
    """The name of the public holiday `day` is in `country`, or None."""
    return _year(country, day.year).get(day)
