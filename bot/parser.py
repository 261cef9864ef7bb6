"""Free text to a neutral command: the one grammar every text channel shares.

`parse` matches command words on normalised tokens (see `bot.text.normalise`) against a table of
Norwegian bokmål, English and Danish aliases, the longest alias first. Arguments (titles, names,
URLs) are taken from the original text, with whitespace collapsed. The parser is pure and total:
anything it cannot use becomes `Unknown` or `Invalid`, never an exception. It uses no regular
expression that can backtrack badly, and refuses input over `MAX_LENGTH` characters up front.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlsplit

from bot.commands import (
    AddLink,
    AddSession,
    Archive,
    CancelSession,
    ChangeSession,
    Command,
    CountSubscribers,
    ForgetMe,
    GrantOrganiser,
    Help,
    Invalid,
    MyData,
    NextSession,
    Recurrence,
    RemoveLink,
    RevokeOrganiser,
    SessionFields,
    SetRecurrence,
    Status,
    Subscribe,
    Unknown,
    Unsubscribe,
)
from bot.text import normalise

MAX_LENGTH = 4000

USAGES: frozenset[str] = frozenset(
    {
        "subscribe",
        "unsubscribe",
        "status",
        "next",
        "archive",
        "help",
        "forget_me",
        "add_session",
        "change_session",
        "cancel_session",
        "recurrence",
        "add_link",
        "remove_link",
        "count",
        "grant_organiser",
        "revoke_organiser",
    }
)

PROBLEMS: frozenset[str] = frozenset(
    {
        "too_long",
        "unexpected_text",
        "missing_start",
        "bad_date",
        "bad_time",
        "missing_title",
        "unknown_field",
        "bad_duration",
        "bad_url",
        "empty_value",
        "no_changes",
        "missing_id",
        "bad_id",
        "missing_url",
        "bad_rule",
        "missing_identity",
        "bad_identity",
    }
)

# Command words per command key, as people write them; normalised when the table is built.
# The keys are the usage keys, except `my_data`, which takes no arguments and has no usage line.
ALIASES: Mapping[str, tuple[str, ...]] = {
    "subscribe": ("meld på", "meld meg på", "abonner", "subscribe", "tilmeld", "tilmeld mig"),
    "unsubscribe": (
        "meld av",
        "meld meg av",
        "avmeld",
        "avslutt abonnement",
        "unsubscribe",
        "afmeld",
        "afmeld mig",
        "stopp",
        "stop",
    ),
    "status": ("status",),
    "next": ("neste", "neste økt", "next", "next session", "næste"),
    "archive": ("arkiv", "arkivet", "lenker", "slides", "archive", "links"),
    "help": ("hjelp", "help", "hjælp", "?", "kommandoer", "commands"),
    "my_data": ("mine data", "my data", "hva vet du om meg", "what do you know about me"),
    "forget_me": (
        "slett meg",
        "slett mine data",
        "forget me",
        "delete my data",
        "slet mig",
        "slet mine data",
    ),
    "add_session": ("ny økt", "legg til økt", "add session", "new session", "ny session", "tilføj session"),
    "change_session": ("endre økt", "endre", "change session", "edit session", "ret session"),
    "cancel_session": ("avlys økt", "avlys", "cancel session", "cancel", "aflys", "aflys session"),
    "recurrence": ("gjentakelse", "gjentak", "recurrence", "repeat", "gentagelse"),
    "add_link": ("ny lenke", "legg til lenke", "add link", "new link", "tilføj link"),
    "remove_link": ("fjern lenke", "slett lenke", "remove link", "delete link", "slet link"),
    "count": (
        "antall",
        "antall abonnenter",
        "count",
        "count subscribers",
        "antal",
        "antal abonnenter",
    ),
    "grant_organiser": (
        "gi arrangør",
        "ny arrangør",
        "legg til arrangør",
        "tilføj arrangør",
        "grant organiser",
        "grant organizer",
        "add organiser",
        "add organizer",
    ),
    "revoke_organiser": (
        "fjern arrangør",
        "revoke organiser",
        "revoke organizer",
        "remove organiser",
        "remove organizer",
    ),
}

# Option keys (`key=value` after a `;`) per session field.
SESSION_KEYS: Mapping[str, tuple[str, ...]] = {
    "title": ("tittel", "title", "titel"),
    "topic": ("tema", "topic", "emne"),
    "duration": ("varighet", "duration", "varighed"),
    "speakers": (
        "foredragsholdere",
        "foredragsholder",
        "speakers",
        "speaker",
        "talere",
        "taler",
        "oplægsholdere",
        "oplægsholder",
    ),
    "description": ("beskrivelse", "agenda", "description", "program"),
    "join_url": ("lenke", "join", "url", "join_url", "join url", "møtelenke", "moetelenke", "link"),
    "start": ("start",),
}
LINK_KEYS: Mapping[str, tuple[str, ...]] = {
    "title": SESSION_KEYS["title"],
    "speaker": SESSION_KEYS["speakers"],
}

_CONFIRM = frozenset({"bekreft", "confirm", "bekraeft", "ja", "yes"})
_AT_WORDS = frozenset({"kl", "klokka", "klokken", "at"})
_TRAILING = "?!.,;:"
_PLATFORMS = frozenset({"slack", "teams", "console", "email", "web"})
_MAX_ID = 2**63 - 1

# --- recurrence vocabulary (normalised words) ----------------------------------------------------

_ORDINALS: Mapping[str, int] = {
    **dict.fromkeys(("1", "1.", "forste", "first", "1st"), 1),
    **dict.fromkeys(("2", "2.", "andre", "annen", "anden", "second", "2nd"), 2),
    **dict.fromkeys(("3", "3.", "tredje", "third", "3rd"), 3),
    **dict.fromkeys(("4", "4.", "fjerde", "fourth", "4th"), 4),
    **dict.fromkeys(("siste", "last", "sidste"), -1),
}
_WEEKDAYS: Mapping[str, int] = {
    **dict.fromkeys(("mandag", "monday"), 0),
    **dict.fromkeys(("tirsdag", "tuesday"), 1),
    **dict.fromkeys(("onsdag", "wednesday"), 2),
    **dict.fromkeys(("torsdag", "thursday"), 3),
    **dict.fromkeys(("fredag", "friday"), 4),
    **dict.fromkeys(("lordag", "saturday"), 5),
    **dict.fromkeys(("sondag", "sunday"), 6),
}
_MONTHS: Mapping[str, int] = {
    **dict.fromkeys(("januar", "january", "jan"), 1),
    **dict.fromkeys(("februar", "february", "feb"), 2),
    **dict.fromkeys(("mars", "march", "marts", "mar"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("mai", "may", "maj"), 5),
    **dict.fromkeys(("juni", "june", "jun"), 6),
    **dict.fromkeys(("juli", "july", "jul"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "october", "okt", "oct"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("desember", "december", "des", "dec"), 12),
}
_RULE_OFF = frozenset({"av", "off", "ingen", "none", "fra"})
_RULE_OFF_LEAD = frozenset({"sla", "skru", "turn", "switch", "sluk"})  # "slå av", "turn off"
_RULE_LEAD = frozenset({"hver", "every", "each", "den", "the", "on", "pa"})
_RULE_FILLER = frozenset(
    {"i", "in", "of", "the", "a", "every", "each", "hver", "maneden", "maned", "mnd", "month"}
    | {"kl", "kl.", "klokka", "klokken", "at", "fra", "from"}
)
_RULE_TO = frozenset({"-", "til", "to", "till", "until"})
_RULE_EXCEPT = frozenset(
    {"ikke", "unntatt", "untatt", "utenom", "except", "excluding", "not", "undtagen", "bortsett", "bortset"}
)
_RULE_EXCEPT_FILLER = frozenset({"men", "but", "i", "in", "during", "fra", "for", "om"})
_RULE_AND = frozenset({",", "og", "and", "&", "samt", "eller", "or"})

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})")
_HOUR = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?")
_DURATION = re.compile(
    r"(?:(\d{1,4})(?:h|t|hr|hrs|hour|hours|time|timer))?"
    r"(?:(\d{1,5})(?:m|min|mins|minute|minutes|minutt|minutter|minuter)?)?"
)
_DECIMAL_HOURS = re.compile(r"(\d{1,2})[.,](\d{1,2})(?:h|t|hr|hrs|hour|hours|time|timer)")
_DASHES = re.compile(r"[-‐‑‒–—−]")


# --- tokens --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    """One whitespace-separated word: as written, and folded for matching."""

    raw: str
    word: str

    @property
    def meaningful(self) -> bool:
        """Whether the token carries letters or digits (not just punctuation or an emoji)."""
        return any(ch.isalnum() for ch in self.word)


class _Problem(Exception):
    """Raised inside a command's argument parser; becomes `Invalid` with the command's usage key."""

    def __init__(self, problem: str, detail: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.detail = detail


def _word(text: str) -> str:
    """The matching form of a word: normalised, trailing punctuation dropped ("?" stays "?")."""
    norm = normalise(text)
    return norm.rstrip(_TRAILING) or norm[:1]


def _tokenise(text: str) -> list[_Token]:
    """Split on any whitespace; tokens that fold to nothing (zero-width characters) are dropped."""
    return [_Token(raw, word) for raw in text.split() if (word := _word(raw))]


def _join(tokens: Sequence[_Token]) -> str:
    return " ".join(token.raw for token in tokens)


def _key(text: str) -> str:
    """An option key's matching form: "Join URL" → "join_url"."""
    return normalise(text).strip(_TRAILING + " ").replace(" ", "_").replace("-", "_")


def _key_table(keys: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {_key(alias): name for name, aliases in keys.items() for alias in aliases}


def _alias_table() -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for command, aliases in ALIASES.items():
        for alias in aliases:
            words = tuple(_word(part) for part in alias.split())
            if table.setdefault(words, command) != command:
                raise ValueError(f"alias {alias!r} is given to two commands")
    return table


_ALIAS_TABLE = _alias_table()
_LONGEST_ALIAS = max(len(words) for words in _ALIAS_TABLE)
_SESSION_KEY_TABLE = _key_table(SESSION_KEYS)
_LINK_KEY_TABLE = _key_table(LINK_KEYS)


def _match_alias(tokens: Sequence[_Token]) -> tuple[str, int] | None:
    """The command key of the longest alias `tokens` begin with, and its length in tokens."""
    words = tuple(token.word for token in tokens[:_LONGEST_ALIAS])
    for length in range(len(words), 0, -1):
        command = _ALIAS_TABLE.get(words[:length])
        if command is not None:
            return command, length
    return None


# --- small argument parsers ----------------------------------------------------------------------


def _slug(token: _Token) -> str:
    """A series slug as the user wrote it, in matching form ("Verdensmål!" → "verdensmal")."""
    return token.word


def _has_letter(token: _Token) -> bool:
    return any(ch.isalpha() for ch in token.word)


def _starts_with_digit(token: _Token) -> bool:
    return token.word[:1].isdigit()


def _is_slug_like(token: _Token) -> bool:
    """Whether a leading argument is a series slug rather than a date, time, id or ordinal."""
    return _has_letter(token) and not _starts_with_digit(token)


def _parse_id(token: _Token) -> int:
    """A positive database id, written `12` or `#12`."""
    digits = token.word.removeprefix("#")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or not 0 < int(digits) <= _MAX_ID:
        raise _Problem("bad_id", token.raw)
    return int(digits)


def _take_id(tokens: Sequence[_Token]) -> int:
    if not tokens:
        raise _Problem("missing_id")
    return _parse_id(tokens[0])


def _no_more(tokens: Sequence[_Token]) -> None:
    """Refuse leftover words; lone punctuation and emoji are let through."""
    if any(token.meaningful for token in tokens):
        raise _Problem("unexpected_text", _join(tokens))


def _parse_date(token: _Token) -> date:
    text = token.word
    if iso := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in iso.groups())
    elif dotted := _DOTTED_DATE.fullmatch(text):
        day, month, year = (int(part) for part in dotted.groups())
    else:
        raise _Problem("bad_date", token.raw)
    try:
        return date(year, month, day)
    except ValueError:
        raise _Problem("bad_date", token.raw) from None


def _parse_clock(token: _Token) -> time:
    found = _CLOCK.fullmatch(token.word)
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise _Problem("bad_time", token.raw)
    return time(int(found[1]), int(found[2]))


def _is_clock_like(token: _Token) -> bool:
    return _CLOCK.fullmatch(token.word) is not None


def _parse_start(tokens: Sequence[_Token]) -> tuple[datetime | None, int]:
    """`DATE [kl.] TIME` at the start of `tokens`: the naive start and the tokens used.

    No date there (a word, or a bare time) gives `(None, 0)`; a token starting with a digit that is
    no date is `bad_date`; a date without a time is `missing_start`, with a bad one `bad_time`.
    """
    if not tokens or not _starts_with_digit(tokens[0]) or _is_clock_like(tokens[0]):
        return None, 0
    day = _parse_date(tokens[0])
    used = 1
    if used < len(tokens) and tokens[used].word in _AT_WORDS:
        used += 1
    if used == len(tokens) or not _starts_with_digit(tokens[used]):
        raise _Problem("missing_start")
    return datetime.combine(day, _parse_clock(tokens[used])), used + 1


def _parse_start_value(value: str) -> datetime:
    """The value of a `start=` option: exactly `DATE [kl.] TIME`."""
    tokens = _tokenise(value)
    try:
        start, used = _parse_start(tokens)
    except _Problem as problem:
        if problem.problem != "missing_start":
            raise
        raise _Problem("bad_time", value) from None
    if start is None:
        raise _Problem("bad_date", value)
    if used < len(tokens):
        raise _Problem("bad_time", value)
    return start


def _parse_duration(value: str) -> int:
    """Minutes from `90`, `90 min`, `1h`, `1t30`, `1,5 t`; 1 to 1440."""
    text = "".join(normalise(value).split())
    minutes: int | None = None
    if decimal := _DECIMAL_HOURS.fullmatch(text):
        minutes = round(float(f"{decimal[1]}.{decimal[2]}") * 60)
    elif (plain := _DURATION.fullmatch(text)) and text:
        minutes = int(plain[1] or 0) * 60 + int(plain[2] or 0)
    if minutes is None or not 1 <= minutes <= 1440:
        raise _Problem("bad_duration", value)
    return minutes


def _parse_url(value: str) -> str:
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
        raise _Problem("bad_url", value)
    return url


def _is_email(text: str) -> bool:
    local, at, domain = text.partition("@")
    labels = domain.split(".")
    return (
        bool(at and local)
        and "@" not in domain
        and len(labels) >= 2
        and all(labels)
        and len(text) <= 320
        and not any(ch.isspace() or ch in '<>()[],;:"' for ch in text)
    )


def _parse_identity(token: _Token) -> str:
    """An e-mail address (lowercased) or `platform:user-id` (platform lowercased)."""
    text = token.raw.rstrip(_TRAILING)
    platform, colon, user_id = text.partition(":")
    if colon and platform.lower() in _PLATFORMS and user_id:
        return f"{platform.lower()}:{user_id}"
    if colon and platform.lower() == "mailto":
        text = user_id
    if _is_email(text):
        return text.lower()
    raise _Problem("bad_identity", token.raw)


# --- options: "; key=value; key: value" ---------------------------------------------------------


def _split_options(text: str) -> tuple[str, list[str]]:
    """The text before the first `;`, and the option segments after it."""
    head, *options = text.split(";")
    return head.strip(), [segment.strip() for segment in options if segment.strip()]


def _parse_options(segments: Sequence[str], table: Mapping[str, str]) -> dict[str, str]:
    """`key=value` or `key: value` segments to {field: value}; a repeated field keeps the last."""
    found: dict[str, str] = {}
    for segment in segments:
        cut = min((i for i in (segment.find("="), segment.find(":")) if i >= 0), default=-1)
        if cut < 0:
            raise _Problem("unknown_field", segment)
        written, value = segment[:cut].strip(), segment[cut + 1 :].strip()
        name = table.get(_key(written))
        if name is None:
            raise _Problem("unknown_field", written)
        if not value:
            raise _Problem("empty_value", written)
        found[name] = value
    return found


def _session_fields(options: Mapping[str, str]) -> SessionFields:
    """Check and convert session options into `SessionFields`."""
    return SessionFields(
        title=options.get("title"),
        start_local=_parse_start_value(options["start"]) if "start" in options else None,
        duration_minutes=_parse_duration(options["duration"]) if "duration" in options else None,
        topic=options.get("topic"),
        speakers=options.get("speakers"),
        description=options.get("description"),
        join_url=_parse_url(options["join_url"]) if "join_url" in options else None,
    )


# --- recurrence rules ----------------------------------------------------------------------------


def _rule_time(word: str) -> time | None:
    found = _HOUR.fullmatch(word)
    if found is None or int(found[1]) > 23 or int(found[2] or 0) > 59:
        return None
    return time(int(found[1]), int(found[2] or 0))


class _Words:
    """A cursor over the words of a recurrence rule."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = words
        self.pos = 0

    def peek(self) -> str:
        return self.words[self.pos] if self.pos < len(self.words) else ""

    def take(self) -> str:
        word = self.peek()
        self.pos += 1
        return word

    def skip(self, words: frozenset[str]) -> bool:
        """Skip any of `words`; whether one was skipped."""
        start = self.pos
        while self.peek() in words:
            self.pos += 1
        return self.pos > start

    def done(self) -> bool:
        return self.pos >= len(self.words)


def _rule_words(text: str) -> list[str]:
    """Normalised words of a rule, with dashes and commas as words of their own."""
    folded = _DASHES.sub(" - ", normalise(text)).replace(",", " , ")
    return folded.rstrip(" .!?").split()


def _parse_rule(text: str) -> Recurrence:
    """`første fredag i måneden 09:00-10:00, ikke juli og august` and its en/da equivalents."""
    words = _Words(_rule_words(text))
    words.skip(_RULE_LEAD)
    ordinal = _ORDINALS.get(words.take())
    weekday = _WEEKDAYS.get(words.take())
    words.skip(_RULE_FILLER)
    start = _rule_time(words.take())
    to = words.take()
    end = _rule_time(words.take())
    if ordinal is None or weekday is None or start is None or end is None or to not in _RULE_TO:
        raise _Problem("bad_rule", text)
    if end <= start:
        raise _Problem("bad_rule", text)
    words.skip(frozenset({","}))
    skip = _skip_months(words, text)
    if len(skip) == 12:
        raise _Problem("bad_rule", text)
    return Recurrence(ordinal, weekday, start, end, frozenset(skip))


def _skip_months(words: _Words, text: str) -> set[int]:
    """The optional `ikke juli og august` at the end of a rule."""
    if words.done():
        return set()
    words.skip(_RULE_EXCEPT_FILLER)
    if not words.skip(_RULE_EXCEPT):
        raise _Problem("bad_rule", text)
    words.skip(_RULE_EXCEPT_FILLER)
    months: set[int] = set()
    while not words.done():
        month = _MONTHS.get(words.take().rstrip("."))
        if month is None:
            raise _Problem("bad_rule", text)
        months.add(month)
        if words.skip(_RULE_AND) and words.done():
            raise _Problem("bad_rule", text)
    if not months:
        raise _Problem("bad_rule", text)
    return months


# --- one function per command --------------------------------------------------------------------

_Handler = Callable[[Sequence[_Token]], Command | None]


def _series_command(make: Callable[[str | None], Command]) -> _Handler:
    """A command that takes at most one word: the series slug."""

    def handle(args: Sequence[_Token]) -> Command:
        words = [token for token in args if token.meaningful]
        if len(words) > 1:
            raise _Problem("unexpected_text", _join(args))
        return make(_slug(words[0]) if words else None)

    return handle


def _help(args: Sequence[_Token]) -> Command:
    return Help()


def _my_data(args: Sequence[_Token]) -> Command | None:
    return None if any(token.meaningful for token in args) else MyData()


def _forget_me(args: Sequence[_Token]) -> Command:
    words = [token for token in args if token.meaningful]
    if not words:
        return ForgetMe(confirmed=False)
    if len(words) == 1 and words[0].word in _CONFIRM:
        return ForgetMe(confirmed=True)
    raise _Problem("unexpected_text", _join(args))


def _add_session(args: Sequence[_Token]) -> Command:
    head, segments = _split_options(_join(args))
    tokens = _tokenise(head)
    series = None
    if tokens and _is_slug_like(tokens[0]):
        series, tokens = _slug(tokens[0]), tokens[1:]
    start, used = _parse_start(tokens)
    fields = _session_fields(_parse_options(segments, _SESSION_KEY_TABLE))
    start = fields.start_local or start
    title = fields.title or _join(tokens[used:])
    if start is None:
        raise _Problem("missing_start")
    if not title:
        raise _Problem("missing_title")
    return AddSession(
        SessionFields(
            title=title,
            start_local=start,
            duration_minutes=fields.duration_minutes,
            topic=fields.topic,
            speakers=fields.speakers,
            description=fields.description,
            join_url=fields.join_url,
        ),
        series=series,
    )


def _change_session(args: Sequence[_Token]) -> Command:
    head, segments = _split_options(_join(args))
    tokens = _tokenise(head)
    session_id = _take_id(tokens)
    if len(tokens) > 1:
        segments = [_join(tokens[1:]), *segments]
    options = _parse_options(segments, _SESSION_KEY_TABLE)
    if not options:
        raise _Problem("no_changes")
    return ChangeSession(session_id, _session_fields(options))


def _cancel_session(args: Sequence[_Token]) -> Command:
    session_id = _take_id(args)
    _no_more(args[1:])
    return CancelSession(session_id)


def _is_rule_start(token: _Token) -> bool:
    """Whether a token begins the rule itself, so is no series slug."""
    word = token.word
    vocabulary = (_ORDINALS, _WEEKDAYS, _RULE_OFF, _RULE_OFF_LEAD, _RULE_LEAD)
    return _starts_with_digit(token) or any(word in words for words in vocabulary)


def _is_off(tokens: Sequence[_Token]) -> bool:
    """`av`, `off`, `slå av`, `turn off`: recurrence switched off."""
    words = [token.word for token in tokens if token.meaningful]
    return bool(words) and words[-1] in _RULE_OFF and all(w in _RULE_OFF_LEAD for w in words[:-1])


def _recurrence(args: Sequence[_Token]) -> Command:
    series = None
    rest = list(args)
    if rest and not _is_rule_start(rest[0]):
        series, rest = _slug(rest[0]), rest[1:]
    if _is_off(rest):
        return SetRecurrence(rule=None, series=series)
    return SetRecurrence(rule=_parse_rule(_join(rest)), series=series)


def _add_link(args: Sequence[_Token]) -> Command:
    head, segments = _split_options(_join(args))
    tokens = _tokenise(head)
    session_id = _take_id(tokens)
    if len(tokens) < 2:
        raise _Problem("missing_url")
    url = _parse_url(tokens[1].raw)
    options = _parse_options(segments, _LINK_KEY_TABLE)
    title = options.get("title") or _join(tokens[2:])
    if not title:
        raise _Problem("missing_title")
    return AddLink(session_id, url, title, speaker=options.get("speaker"))


def _remove_link(args: Sequence[_Token]) -> Command:
    link_id = _take_id(args)
    _no_more(args[1:])
    return RemoveLink(link_id)


def _organiser_command(make: Callable[[str, str | None], Command]) -> _Handler:
    """`IDENTITY [SLUG]`, for granting and revoking organiser rights."""

    def handle(args: Sequence[_Token]) -> Command:
        words = [token for token in args if token.meaningful]
        if not words:
            raise _Problem("missing_identity")
        identity = _parse_identity(words[0])
        if len(words) > 2:
            raise _Problem("unexpected_text", _join(words[1:]))
        return make(identity, _slug(words[1]) if len(words) == 2 else None)

    return handle


_HANDLERS: Mapping[str, _Handler] = {
    "subscribe": _series_command(Subscribe),
    "unsubscribe": _series_command(Unsubscribe),
    "status": _series_command(Status),
    "next": _series_command(NextSession),
    "archive": _series_command(Archive),
    "help": _help,
    "my_data": _my_data,
    "forget_me": _forget_me,
    "add_session": _add_session,
    "change_session": _change_session,
    "cancel_session": _cancel_session,
    "recurrence": _recurrence,
    "add_link": _add_link,
    "remove_link": _remove_link,
    "count": _series_command(CountSubscribers),
    "grant_organiser": _organiser_command(GrantOrganiser),
    "revoke_organiser": _organiser_command(RevokeOrganiser),
}


def parse(text: str) -> Command:
    """The command `text` asks for; `Unknown` or `Invalid` when it cannot be carried out as written."""
    if len(text) > MAX_LENGTH:
        return Invalid(usage="help", problem="too_long")
    # `;` separates options; as a word of its own it cannot hide in a command word ("ny økt;").
    tokens = _tokenise(text.replace(";", " ; "))
    if not tokens:
        return Help()
    matched = _match_alias(tokens)
    if matched is None:
        return Unknown(text=text)
    command, length = matched
    try:
        result = _HANDLERS[command](tokens[length:])
    except _Problem as problem:
        usage = command if command in USAGES else "help"
        return Invalid(usage=usage, problem=problem.problem, detail=problem.detail)
    return Unknown(text=text) if result is None else result
