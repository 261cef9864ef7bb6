"""Session arguments: dates, times, durations, URLs, `; key=value` options and `SessionFields`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from urllib.parse import urlsplit

from bot.bounds import day_in_range
from bot.commands import OpenStart, SessionFields
from bot.parser.calendar_words import MONTHS, WEEKDAYS
from bot.parser.problems import Problem
from bot.parser.tokens import Token, fold_spelling, join, key_form, starts_with_digit, tokenise
from bot.text import normalise

_AT_WORDS = frozenset({"kl", "klokka", "klokken", "at"})
_AFTER_WEEKDAY = frozenset({"den", "the", "d"})

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_SLASHED_DATE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{4}))?")
_DOTTED_NO_YEAR = re.compile(r"(\d{1,2})\.(\d{1,2})\.")  # "5.3." (the last dot tells it from 5.30)
_DAY = re.compile(r"\d{1,2}")
_YEAR = re.compile(r"\d{4}")
_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})")
_HOUR = re.compile(r"\d{1,2}")
_TWELVE_HOUR = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?(am|pm)")  # 9am, 9:30pm
_HALF_DAY = frozenset({"am", "pm"})
_DURATION = re.compile(
    r"(?:(\d{1,4})(?:h|t|hr|hrs|hour|hours|time|timer))?"
    r"(?:(\d{1,5})(?:m|min|mins|minute|minutes|minutt|minutter|minuter)?)?"
)
_DECIMAL_HOURS = re.compile(r"(\d{1,2})[.,](\d{1,2})(?:h|t|hr|hrs|hour|hours|time|timer)")

# A date as written: (year or None, month, day), and how many tokens it took.
_Written = tuple[int | None, int, int]


# --- dates and times -----------------------------------------------------------------------------


def weekday_of(token: Token) -> int | None:
    """The weekday a word names (`fredag`, `fre.`, `friday`, `laurdag`), or None."""
    return WEEKDAYS.get(fold_spelling(token.word))


def _month_of(token: Token) -> int | None:
    return MONTHS.get(fold_spelling(token.word))


def _one_token_date(token: Token) -> _Written | None:
    """`2027-03-05`, `5.3.2027`, `5/3/2027`, `5/3`, `5.3.`; None when the token is none of these."""
    text = token.word
    if iso := _ISO_DATE.fullmatch(text):
        return int(iso[1]), int(iso[2]), int(iso[3])
    if dotted := _DOTTED_DATE.fullmatch(text):
        return int(dotted[3]), int(dotted[2]), int(dotted[1])
    if slashed := _SLASHED_DATE.fullmatch(text):
        return (int(slashed[3]) if slashed[3] else None), int(slashed[2]), int(slashed[1])
    if short := _DOTTED_NO_YEAR.fullmatch(token.raw.rstrip(",")):
        return None, int(short[2]), int(short[1])
    return None


def _year_at(tokens: Sequence[Token], at: int) -> int | None:
    return int(tokens[at].word) if at < len(tokens) and _YEAR.fullmatch(tokens[at].word) else None


def _written_date(tokens: Sequence[Token]) -> tuple[_Written, int] | None:
    """A date at the start of `tokens`, in one of the ways people write one: `5. mars 2027`,
    `5 March`, `March 5, 2027`, or one token (`_one_token_date`)."""
    first = tokens[0]
    if (found := _one_token_date(first)) is not None:
        return found, 1
    second = tokens[1] if len(tokens) > 1 else None
    if _DAY.fullmatch(first.word) and second is not None and (month := _month_of(second)) is not None:
        year = _year_at(tokens, 2)
        return (year, month, int(first.word)), 2 if year is None else 3
    if (month := _month_of(first)) is not None and second is not None and _DAY.fullmatch(second.word):
        year = _year_at(tokens, 2)
        return (year, month, int(second.word)), 2 if year is None else 3
    return None


def _checked(written: _Written, shown: str) -> tuple[int | None, int, int]:
    """The written date if it exists (without a year: in some year, 29 February too)."""
    year, month, day = written
    try:
        real = date(2000 if year is None else year, month, day)
    except ValueError:
        raise Problem("bad_date", shown) from None
    if year is not None and not day_in_range(real):
        raise Problem("date_out_of_range", shown)
    return year, month, day


def _parse_clock(tokens: Sequence[Token], *, hour_alone: bool) -> tuple[time, int]:
    """`09:00`, `9.30`, `9am`, `9:30 pm`, and a bare hour (`9`) only after `kl.`, where nothing else can
    be meant: the time and the tokens it took (1, or 2 with a separate am/pm)."""
    token = tokens[0]
    half = tokens[1].word if len(tokens) > 1 and tokens[1].word in _HALF_DAY else None
    if twelve := _TWELVE_HOUR.fullmatch(token.word + (half or "")):
        hour, minute = int(twelve[1]), int(twelve[2] or 0)
        if 1 <= hour <= 12 and minute <= 59:
            return time(hour % 12 + (12 if twelve[3] == "pm" else 0), minute), 1 if half is None else 2
        raise Problem("bad_time", token.raw)
    found = _CLOCK.fullmatch(token.word)
    if found is not None and int(found[1]) <= 23 and int(found[2]) <= 59:
        return time(int(found[1]), int(found[2])), 1
    if hour_alone and _HOUR.fullmatch(token.word) and int(token.word) <= 23:
        return time(int(token.word)), 1
    raise Problem("bad_time", token.raw)


def _is_clock_like(token: Token) -> bool:
    return _CLOCK.fullmatch(token.word) is not None


def starts_a_date(tokens: Sequence[Token]) -> bool:
    """Whether `tokens` begin with a weekday or a written-out month (so no series slug)."""
    if not tokens:
        return False
    if weekday_of(tokens[0]) is not None:
        return True
    return _month_of(tokens[0]) is not None and len(tokens) > 1 and starts_with_digit(tokens[1])


def parse_start(tokens: Sequence[Token]) -> tuple[datetime | OpenStart | None, int]:
    """`[WEEKDAY] DATE [kl.] TIME` at the start of `tokens`: the start and the tokens used.

    The start is a naive datetime when the date has its year and no weekday was written; otherwise an
    `OpenStart` for the core to settle. No date there (a word, or a bare time) gives `(None, 0)`; a
    token starting with a digit that begins no date is `bad_date`; a weekday without a date, or a
    date without a time, is `missing_start`; a bad time is `bad_time`.
    """
    used = 0
    weekday = weekday_of(tokens[0]) if tokens else None
    if weekday is not None:
        used = 1
        while used < len(tokens) and (tokens[used].word in _AFTER_WEEKDAY or not tokens[used].meaningful):
            used += 1
    rest = tokens[used:]
    if weekday is not None and not rest:
        raise _NoDate()
    if weekday is None and (not rest or (not starts_a_date(rest) and not starts_with_digit(rest[0]))):
        return None, 0
    if weekday is None and _is_clock_like(rest[0]) and _one_token_date(rest[0]) is None:
        return None, 0
    found = _written_date(rest)
    if found is None and weekday is not None:
        raise _NoDate()
    if found is None:
        raise Problem("bad_date", rest[0].raw)
    written, length = found
    year, month, day = _checked(written, join(rest[:length]))
    used += length
    hour_alone = False
    while used < len(tokens) and (tokens[used].word in _AT_WORDS or not tokens[used].meaningful):
        hour_alone = hour_alone or tokens[used].word in _AT_WORDS
        used += 1
    if used == len(tokens) or not starts_with_digit(tokens[used]):
        raise Problem("missing_start")
    at, length = _parse_clock(tokens[used:], hour_alone=hour_alone)
    used += length
    if year is not None and weekday is None:
        return datetime.combine(date(year, month, day), at), used
    return OpenStart(month=month, day=day, at=at, year=year, weekday=weekday), used


class _NoDate(Problem):
    """A weekday with no date after it: the start is missing (in a `start=` value, the date is bad)."""

    def __init__(self) -> None:
        super().__init__("missing_start")


def _parse_start_value(value: str) -> datetime | OpenStart:
    """The value of a `start=` option: exactly `[WEEKDAY] DATE [kl.] TIME`."""
    tokens = tokenise(value)
    try:
        start, used = parse_start(tokens)
    except _NoDate:
        raise Problem("bad_date", value) from None
    except Problem as problem:
        if problem.problem != "missing_start":
            raise
        raise Problem("bad_time", value) from None
    if start is None:
        raise Problem("bad_date", value)
    if used < len(tokens):
        raise Problem("bad_time", value)
    return start


# --- durations and URLs --------------------------------------------------------------------------


def _parse_duration(value: str) -> int:
    """Minutes from `90`, `90 min`, `1h`, `1t30`, `1,5 t`; 1 to 1440."""
    text = "".join(normalise(value).split())
    minutes: int | None = None
    if decimal := _DECIMAL_HOURS.fullmatch(text):
        minutes = round(float(f"{decimal[1]}.{decimal[2]}") * 60)
    elif (plain := _DURATION.fullmatch(text)) and text:
        minutes = int(plain[1] or 0) * 60 + int(plain[2] or 0)
    if minutes is None or not 1 <= minutes <= 1440:
        raise Problem("bad_duration", value)
    return minutes


def parse_url(value: str) -> str:
    """An http(s) URL with a host, as written (Slack's surrounding `<>` removed)."""
    url = value.strip()
    if url.startswith("<") and url.endswith(">"):
        url = url[1:-1]
    try:
        parts = urlsplit(url)
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or any(ch.isspace() for ch in url):
        raise Problem("bad_url", value)
    return url


# --- options: "; key=value; key: value" ---------------------------------------------------------


def split_options(text: str) -> tuple[str, list[str]]:
    """The text before the first `;`, and the option segments after it."""
    head, *options = text.split(";")
    return head.strip(), [segment.strip() for segment in options if segment.strip()]


def parse_options(segments: Sequence[str], table: Mapping[str, str]) -> dict[str, str]:
    """`key=value` or `key: value` segments to {field: value}; a repeated field keeps the last."""
    found: dict[str, str] = {}
    for segment in segments:
        cut = min((i for i in (segment.find("="), segment.find(":")) if i >= 0), default=-1)
        if cut < 0:
            raise Problem("unknown_field", segment)
        written, value = segment[:cut].strip(), segment[cut + 1 :].strip()
        name = table.get(key_form(written))
        if name is None:
            raise Problem("unknown_field", written)
        if not value:
            raise Problem("empty_value", written)
        found[name] = value
    return found


def session_fields(options: Mapping[str, str]) -> SessionFields:
    """Check and convert session options into `SessionFields`."""
    start = _parse_start_value(options["start"]) if "start" in options else None
    return SessionFields(
        title=options.get("title"),
        start_local=start if isinstance(start, datetime) else None,
        open_start=start if isinstance(start, OpenStart) else None,
        duration_minutes=_parse_duration(options["duration"]) if "duration" in options else None,
        topic=options.get("topic"),
        speakers=options.get("speakers"),
        description=options.get("description"),
        join_url=parse_url(options["join_url"]) if "join_url" in options else None,
    )
