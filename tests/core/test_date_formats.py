"""The bot's own date formats say exactly what Babel (CLDR) says with the patterns they replace."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, get_day_names, get_month_names

from bot.date_formats import DAYS, MONTHS, PATTERNS, format_moment, month_name, weekday_name
from bot.settings import LANGUAGES

# What bot/rendering.py asked Babel for before.
CLDR_PATTERNS = {
    "nb": {"when": "EEEE d. MMMM y 'kl.' HH:mm", "date": "EEEE d. MMMM y", "day": "EEEE d. MMMM"},
    "en": {"when": "EEEE d MMMM y 'at' HH:mm", "date": "EEEE d MMMM y", "day": "EEEE d MMMM"},
    "da": {
        "when": "EEEE 'den' d. MMMM y 'kl.' HH:mm",
        "date": "EEEE 'den' d. MMMM y",
        "day": "EEEE 'den' d. MMMM",
    },
    "nn": {"when": "EEEE d. MMMM y 'kl.' HH:mm", "date": "EEEE d. MMMM y", "day": "EEEE d. MMMM"},
}
SHORT = {"nb": "d.M.y HH:mm", "en": "d/M/y HH:mm", "da": "d.M.y HH:mm", "nn": "d.M.y HH:mm"}


def test_every_language_has_every_format() -> None:
    assert set(PATTERNS) == set(DAYS) == set(MONTHS) == set(LANGUAGES)
    for language in LANGUAGES:
        assert set(PATTERNS[language]) == {"when", "date", "day", "short"}


def test_names_are_cldr_names() -> None:
    for language in LANGUAGES:
        days = get_day_names("wide", locale=language)
        months = get_month_names("wide", locale=language)
        assert [weekday_name(language, i) for i in range(7)] == [days[i] for i in range(7)]
        assert [month_name(language, n) for n in range(1, 13)] == [months[n] for n in range(1, 13)]


def test_every_format_matches_babel_over_two_years() -> None:
    # Days all through 2026-2027 in Oslo's time, as the renderer passes them (every weekday and
    # month, one- and two-digit days and months, hours and minutes, both sides of summer time).
    moment = datetime(2026, 1, 1, 0, 5, tzinfo=ZoneInfo("Europe/Oslo"))
    while moment.year < 2028:
        for language in LANGUAGES:
            patterns = CLDR_PATTERNS[language] | {"short": SHORT[language]}
            for kind, pattern in patterns.items():
                expected = format_datetime(moment, pattern, locale=language)
                assert format_moment(moment, language, kind) == expected, (language, kind, moment)
        moment += timedelta(days=1, hours=7, minutes=13)
