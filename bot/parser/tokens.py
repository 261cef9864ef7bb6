"""Words of a message, and the arguments that fit in one word: series slugs, ids and identities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.addresses import BadAddress, mailbox
from bot.bounds import is_platform_id, parse_id
from bot.parser.problems import Problem
from bot.text import normalise

TRAILING = "?!.,;:"
_PLATFORMS = frozenset({"slack", "teams", "console", "email", "web"})


@dataclass(frozen=True)
class Token:
    """One whitespace-separated word: as written, and folded for matching."""

    raw: str
    word: str

    @property
    def meaningful(self) -> bool:
        """Whether the token carries letters or digits (not just punctuation or an emoji)."""
        return any(ch.isalnum() for ch in self.word)


def word_form(text: str) -> str:
    """The matching form of a word: normalised, trailing punctuation dropped ("?" stays "?")."""
    norm = normalise(text)
    return norm.rstrip(TRAILING) or norm[:1]


def fold_spelling(word: str) -> str:
    """A matching-form word with the keyboard spellings of å and ø read as the letters: `paa` is `på`
    (folded `pa`), `moete` is `møte` (`mote`). `ae` already is æ's folded form. For command words
    only: a series slug or a title keeps its letters."""
    return word.replace("aa", "a").replace("oe", "o")


def tokenise(text: str) -> list[Token]:
    """Split on any whitespace; tokens that fold to nothing (zero-width characters) are dropped."""
    return [Token(raw, word) for raw in text.split() if (word := word_form(raw))]


def join(tokens: Sequence[Token]) -> str:
    return " ".join(token.raw for token in tokens)


def key_form(text: str) -> str:
    """An option key's matching form: "Join URL" → "join_url"."""
    return normalise(text).strip(TRAILING + " ").replace(" ", "_").replace("-", "_")


def slug(token: Token) -> str:
    """A series slug as the user wrote it, in matching form ("Verdensmål!" → "verdensmal")."""
    return token.word


def _has_letter(token: Token) -> bool:
    return any(ch.isalpha() for ch in token.word)


def starts_with_digit(token: Token) -> bool:
    return token.word[:1].isdigit()


def is_slug_like(token: Token) -> bool:
    """Whether a leading argument is a series slug rather than a date, time, id or ordinal."""
    return _has_letter(token) and not starts_with_digit(token)


def _parse_id(token: Token) -> int:
    """A positive database id, written `12` or `#12`."""
    found = parse_id(token.word.removeprefix("#"))
    if found is None:
        raise Problem("bad_id", token.raw)
    return found


def take_id(tokens: Sequence[Token]) -> int:
    if not tokens:
        raise Problem("missing_id")
    return _parse_id(tokens[0])


def no_more(tokens: Sequence[Token]) -> None:
    """Refuse leftover words; lone punctuation and emoji are let through."""
    if any(token.meaningful for token in tokens):
        raise Problem("unexpected_text", join(tokens))


def parse_identity(token: Token) -> str:
    """An e-mail address (in its one kept form, see bot.addresses) or `platform:user-id` (platform
    lowercased). A word with an `@` that is not one mailbox is `bad_address`."""
    text = token.raw.rstrip(TRAILING)
    platform, colon, user_id = text.partition(":")
    if colon and platform.lower() in _PLATFORMS and platform.lower() != "email":
        if is_platform_id(user_id):
            return f"{platform.lower()}:{user_id}"
        raise Problem("bad_identity", token.raw)
    if colon and platform.lower() in ("mailto", "email"):
        text = user_id
    try:
        return mailbox(text)
    except BadAddress:
        raise Problem("bad_address" if "@" in text else "bad_identity", token.raw) from None
