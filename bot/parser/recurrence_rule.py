"""Recurrence rules: `første fredag i måneden 09:00-10:00, ikke juli og august` in three languages."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import time

from bot.commands import Recurrence
from bot.parser.calendar_words import MONTHS as _MONTHS
from bot.parser.calendar_words import WEEKDAYS as _WEEKDAYS
from bot.parser.problems import Problem
from bot.parser.tokens import Token, fold_spelling, starts_with_digit
from bot.text import normalise

# --- vocabulary (normalised words) ---------------------------------------------------------------

_ORDINALS: Mapping[str, int] = {
    **dict.fromkeys(("1", "1.", "forste", "fyrste", "first", "1st"), 1),
    **dict.fromkeys(("2", "2.", "andre", "annen", "anden", "second", "2nd"), 2),
    **dict.fromkeys(("3", "3.", "tredje", "third", "3rd"), 3),
    **dict.fromkeys(("4", "4.", "fjerde", "fourth", "4th"), 4),
    **dict.fromkeys(("siste", "last", "sidste"), -1),
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

_HOUR = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?")
_DASHES = re.compile(r"[-‐‑‒–—−]")


# --- the command's leading words -----------------------------------------------------------------


def is_rule_start(token: Token) -> bool:
    """Whether a token begins the rule itself, so is no series slug."""
    word = fold_spelling(token.word)
    vocabulary = (_ORDINALS, _WEEKDAYS, _RULE_OFF, _RULE_OFF_LEAD, _RULE_LEAD)
    return starts_with_digit(token) or any(word in words for words in vocabulary)


def is_off(tokens: Sequence[Token]) -> bool:
    """`av`, `off`, `slå av`, `turn off`: recurrence switched off."""
    words = [token.word for token in tokens if token.meaningful]
    return bool(words) and words[-1] in _RULE_OFF and all(w in _RULE_OFF_LEAD for w in words[:-1])


# --- the rule ------------------------------------------------------------------------------------


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
    return [fold_spelling(word) for word in folded.rstrip(" .!?").split()]


def parse_rule(text: str) -> Recurrence:
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
        raise Problem("bad_rule", text)
    if end <= start:
        raise Problem("bad_rule", text)
    words.skip(frozenset({","}))
    skip = _skip_months(words, text)
    if len(skip) == 12:
        raise Problem("bad_rule", text)
    return Recurrence(ordinal, weekday, start, end, frozenset(skip))


def _skip_months(words: _Words, text: str) -> set[int]:
    """The optional `ikke juli og august` at the end of a rule."""
    if words.done():
        return set()
    words.skip(_RULE_EXCEPT_FILLER)
    if not words.skip(_RULE_EXCEPT):
        raise Problem("bad_rule", text)
    words.skip(_RULE_EXCEPT_FILLER)
    months: set[int] = set()
    while not words.done():
        month = _MONTHS.get(words.take().rstrip("."))
        if month is None:
            raise Problem("bad_rule", text)
        months.add(month)
        if words.skip(_RULE_AND) and words.done():
            raise Problem("bad_rule", text)
    if not months:
        raise Problem("bad_rule", text)
    return months
