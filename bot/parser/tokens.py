"""Words of a message, and the arguments that fit in one word: series slugs, ids and identities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.parser.problems import Problem
from bot.text import normalise

TRAILING = "?!.,;:"
_PLATFORMS = frozenset({"slack", "teams", "console", "email", "web"})
_MAX_ID = 2**63 - 1


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
    digits = token.word.removeprefix("#")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or not 0 < int(digits) <= _MAX_ID:
        raise Problem("bad_id", token.raw)
    return int(digits)


def take_id(tokens: Sequence[Token]) -> int:
    if not tokens:
        raise Problem("missing_id")
    return _parse_id(tokens[0])


def no_more(tokens: Sequence[Token]) -> None:
    """Refuse leftover words; lone punctuation and emoji are let through."""
    if any(token.meaningful for token in tokens):
        raise Problem("unexpected_text", join(tokens))


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


def parse_identity(token: Token) -> str:
    """An e-mail address (lowercased) or `platform:user-id` (platform lowercased)."""
    text = token.raw.rstrip(TRAILING)
    platform, colon, user_id = text.partition(":")
    if colon and platform.lower() in _PLATFORMS and user_id:
        return f"{platform.lower()}:{user_id}"
    if colon and platform.lower() == "mailto":
        text = user_id
    if _is_email(text):
        return text.lower()
    raise Problem("bad_identity", token.raw)
