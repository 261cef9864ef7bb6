"""«Mente du «meld på»?»: the command word nearest to what someone typed, by edit distance.

Only the first words are compared (as many as the longest alias has), each cut to a few dozen
characters, and an alias whose length differs by more than the allowance is skipped before any
distance is computed: a 4,000-character line costs what a short one does.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.parser.aliases import match_alias, written_aliases
from bot.parser.tokens import Token, fold_spelling

_LONGEST_WORD = 30
_SHORTEST = 3  # no suggestion for (or of) a word of one or two letters: "x" is not a typo of "?"
_SCANNED = 12  # words searched for a command inside a sentence ("når er neste økt?")


def _allowance(target: str) -> int:
    """Typos allowed: one in a short word, two in a longer one."""
    return 1 if len(target) <= 5 else 2


def distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Levenshtein plus swapped neighbours), or `limit + 1` when
    it is larger than `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]


def nearest_alias(tokens: Sequence[Token]) -> str | None:
    """The alias (as written in the command table) nearest to the first words of `tokens`, if one is
    within a typo or two; the first of the table on a tie. A command's first word alone (`meld`)
    suggests the command (`meld på`). Failing that, a command further on in a sentence (`når er
    neste økt?`)."""
    return _typo_of(tokens) or _inside(tokens)


def _inside(tokens: Sequence[Token]) -> str | None:
    for start in range(1, min(len(tokens), _SCANNED)):
        matched = match_alias(tokens[start:])
        if matched is None:
            continue
        words = tuple(fold_spelling(token.word) for token in tokens[start : start + matched[1]])
        written = written_aliases().get(words)
        if written is not None and len(" ".join(words)) >= _SHORTEST and matched[0] not in _NOT_INSIDE:
            return written
    return None


# Words that are no request when they come up inside a sentence (`takk`, `hei`, a lone `?`).
_NOT_INSIDE = frozenset({"greeting", "thanks", "help"})


def _typo_of(tokens: Sequence[Token]) -> str | None:
    words = [fold_spelling(token.word)[:_LONGEST_WORD] for token in tokens[:4] if token.meaningful]
    if not words:
        return None
    best: tuple[int, str] | None = None
    for alias, written in written_aliases().items():
        target = " ".join(alias)
        if len(target) < _SHORTEST or len(words[0]) < _SHORTEST:
            continue
        typed = " ".join(words[: len(alias)])
        limit = _allowance(target)
        found = distance(typed, target, limit)
        if found > limit and len(words) < len(alias) and tuple(words) == alias[: len(words)]:
            found = limit  # the command's first word(s) only: the least sure suggestion
        if found <= limit and (best is None or found < best[0]):
            best = (found, written)
    return best[1] if best is not None else None
