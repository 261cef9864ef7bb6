"""The languages the bot speaks: their names in each other, and picking one from a language tag.

The codes are BCP 47 primary tags and Babel locales at once (`nb`, `en`, `da`, `nn`). A tag from a
browser, Slack or Microsoft 365 (`nb-NO`, `no`, `nn-NO`, `da-DK`, `en-GB`) maps to one of them; any
other language (Swedish, German) maps to none, so the caller falls back to the series' language
rather than to the nearest neighbour.
"""

from __future__ import annotations

import math

from bot.settings import LANGUAGES

# Each language's name, written in each language: NAMES[reader][language].
NAMES: dict[str, dict[str, str]] = {
    "nb": {"nb": "norsk bokmål", "en": "engelsk", "da": "dansk", "nn": "norsk nynorsk"},
    "en": {"nb": "Norwegian Bokmål", "en": "English", "da": "Danish", "nn": "Norwegian Nynorsk"},
    "da": {"nb": "norsk bokmål", "en": "engelsk", "da": "dansk", "nn": "norsk nynorsk"},
    "nn": {"nb": "norsk bokmål", "en": "engelsk", "da": "dansk", "nn": "norsk nynorsk"},
}
# Each language's name in itself, for a language switch: the reader looks for their own.
NATIVE: dict[str, str] = {"nb": "Norsk bokmål", "en": "English", "da": "Dansk", "nn": "Norsk nynorsk"}

# Primary tags that name one of our languages by another code: `no` is Norwegian, written bokmål.
_ALIASES = {"no": "nb", "nob": "nb", "nno": "nn", "dan": "da", "eng": "en"}


def name_of(language: str, reader: str) -> str:
    """`language`'s name for a reader of `reader` (the code itself when either is unknown)."""
    return NAMES.get(reader, NAMES["en"]).get(language, language)


def from_tag(tag: str | None) -> str | None:
    """One of our languages for a language tag (`nb-NO`, `no`, `nn`, `da_DK`, `en-GB`), else None."""
    primary = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    primary = _ALIASES.get(primary, primary)
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str) -> str | None:
    """The best supported language in an HTTP Accept-Language header, by q-value, then by order.

    Unsupported tags are skipped, so `sv, da;q=0.5` gives Danish (the reader asked for it, second),
    and `sv` alone gives None (the caller's fallback), never the nearest neighbour."""
    best: tuple[float, str] | None = None
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        language = from_tag(tag) if tag.strip() != "*" else None
        if language is None:
            continue
        quality = _quality(params)
        # Higher quality wins; among equals, the earlier one (the position breaks the tie).
        candidate = (quality - position * 1e-6, language)
        if quality > 0 and (best is None or candidate > best):
            best = candidate
    return best[1] if best else None


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                return 0.0
            return max(0.0, min(1.0, quality)) if math.isfinite(quality) else 0.0
    return 1.0
