"""Text folding for matching command words across spellings, keyboards and channels.

`normalise` makes "Meld  PÅ", "meld pa" and "meld\u00a0på" the same string, so the parser can
compare command words without caring about case, diacritics or odd whitespace. It is only for
matching: arguments such as titles and names are always taken from the original text.
"""

from __future__ import annotations

import unicodedata

# Letters that NFKD does not decompose but that users type without when they lack the key.
_FOLDS = str.maketrans({"ø": "o", "æ": "ae"})


def _strip_marks(text: str) -> str:
    """Drop combining marks (å→a, é→e) and invisible format characters (zero-width space, BOM)."""
    return "".join(ch for ch in text if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf")


def normalise(text: str) -> str:
    """Fold `text` for matching: casefolded, without diacritics, ø→o, æ→ae, single spaces, stripped."""
    # NFKD around casefold is Unicode's recipe for compatibility caseless matching.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    folded = _strip_marks(folded).translate(_FOLDS)
    return " ".join(folded.split())


def visible(text: str) -> str:
    """`text` with every control or invisible format character shown as U+FFFD: safe to echo back."""
    return "".join(ch if ch.isprintable() or ch == " " else "\ufffd" for ch in text)


def is_plain_text(text: str) -> bool:
    """Whether `text` (a name, a title) has no control characters: no NUL, no line break, no escape."""
    return not any(unicodedata.category(ch) == "Cc" for ch in text)
