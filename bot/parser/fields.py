"""Session arguments: dates, times, durations, URLs, `; key=value` options and `SessionFields`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from urllib.parse import urlsplit

from bot.bounds import day_in_range
from bot.commands import SessionFields
from bot.parser.problems import Problem
from bot.parser.tokens import Token, key_form, starts_with_digit, tokenise
from bot.text import normalise

_AT_WORDS = frozenset({"kl", "klokka", "klokken", "at"})

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})")
_DURATION = re.compile(
    r"(?:(\d{1,4})(?:h|t|hr|hrs|hour|hours|time|timer))?"
    r"(?:(\d{1,5})(?:m|min|mins|minute|minutes|minutt|minutter|minuter)?)?"
)
_DECIMAL_HOURS = re.compile(r"(\d{1,2})[.,](\d{1,2})(?:h|t|hr|hrs|hour|hours|time|timer)")


# --- dates and times -----------------------------------------------------------------------------


def _parse_date(token: Token) -> date:
    text = token.word
    if iso := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in iso.groups())
    elif dotted := _DOTTED_DATE.fullmatch(text):
        day, month, year = (int(part) for part in dotted.groups())
    else:
        raise Problem("bad_date", token.raw)
    try:
        parsed = date(year, month, day)
    except ValueError:
        raise Problem("bad_date", token.raw) from None
    if not day_in_range(parsed):
        raise Problem("date_out_of_range", token.raw)
    return parsed


def _parse_clock(token: Token) -> time:
    found = _CLOCK.fullmatch(token.word)
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise Problem("bad_time", token.raw)
    return time(int(found[1]), int(found[2]))


def _is_clock_like(token: Token) -> bool:
    return _CLOCK.fullmatch(token.word) is not None


def parse_start(tokens: Sequence[Token]) -> tuple[datetime | None, int]:
    """`DATE [kl.] TIME` at the start of `tokens`: the naive start and the tokens used.

    No date there (a word, or a bare time) gives `(None, 0)`; a token starting with a digit that is
    no date is `bad_date`; a date without a time is `missing_start`, with a bad one `bad_time`.
    """
    if not tokens or not starts_with_digit(tokens[0]) or _is_clock_like(tokens[0]):
        return None, 0
    day = _parse_date(tokens[0])
    used = 1
    if used < len(tokens) and tokens[used].word in _AT_WORDS:
        used += 1
    if used == len(tokens) or not starts_with_digit(tokens[used]):
        raise Problem("missing_start")
    return datetime.combine(day, _parse_clock(tokens[used])), used + 1


def _parse_start_value(value: str) -> datetime:
    """The value of a `start=` option: exactly `DATE [kl.] TIME`."""
    tokens = tokenise(value)
    try:
        start, used = parse_start(tokens)
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
    return SessionFields(
        title=options.get("title"),
        start_local=_parse_start_value(options["start"]) if "start" in options else None,
        duration_minutes=_parse_duration(options["duration"]) if "duration" in options else None,
        topic=options.get("topic"),
        speakers=options.get("speakers"),
        description=options.get("description"),
        join_url=parse_url(options["join_url"]) if "join_url" in options else None,
    )
