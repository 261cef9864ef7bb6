"""Escaped mrkdwn cut into pieces of at most a given length, at the gentlest place there is: between
paragraphs, else between lines, else at a space outside a `<…>` link. A link never gets cut: one that
is longer than a piece on its own loses the end of its label, or the label ("<url>"), instead.

The text is the renderer's escaped mrkdwn, so every `<` and `>` in it belongs to a link (or a mention)
the bot wrote itself, and `&` starts an entity.
"""

from __future__ import annotations

import re

SEPARATORS = ("\n\n", "\n", " ")
# A space that is not inside a `<…>`: no `>` comes before the next `<` (or the end).
_SPACE_OUTSIDE_LINKS = re.compile(r" (?![^<>]*>)")
_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>")
_ELLIPSIS = "…"


def split_mrkdwn(text: str, limit: int) -> list[str]:
    """`text` as pieces of at most `limit` characters (none empty), in order."""
    pieces = (piece.strip("\n") for piece in _pack(text, limit, 0))
    return [piece for piece in pieces if piece.strip()]


def _pack(text: str, limit: int, level: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    if level == len(SEPARATORS):
        return [_shorten(text, limit) or _clip_entity_safe(text, limit - len(_ELLIPSIS)) + _ELLIPSIS]
    separator = SEPARATORS[level]
    parts = _SPACE_OUTSIDE_LINKS.split(text) if separator == " " else text.split(separator)
    pieces: list[str] = []
    current: str | None = None
    for part in parts:
        beside = None
        if (
            current and separator == " " and len(part) > limit
        ):  # a link too long for a piece: beside its bullet
            beside = _shorten(part, limit - len(current) - len(separator))
        head, *rest = [beside] if beside else _pack(part, limit, level + 1)
        if current is not None and len(current) + len(separator) + len(head) <= limit:
            current = current + separator + head
        else:
            if current is not None:
                pieces.append(current)
            current = head
        if rest:  # the part was split finer: its pieces stand alone, its last one may take more
            pieces += [current, *rest[:-1]]
            current = rest[-1]
    if current is not None:
        pieces.append(current)
    return pieces


def _shorten(word: str, limit: int) -> str | None:
    """One word (no space outside a link) in at most `limit` characters with its links whole, their
    labels shortened or dropped if need be; None when that cannot be done."""
    if len(word) <= limit:
        return word
    if not _LINK.search(word):
        return None
    for match in reversed(list(_LINK.finditer(word))):
        over = len(word) - limit
        if over <= 0:
            break
        url, label = match.group(1), match.group(2)
        keep = len(label) - over - len(_ELLIPSIS)
        link = f"<{url}|{_clip_entity_safe(label, keep)}{_ELLIPSIS}>" if keep > 0 else f"<{url}>"
        word = word[: match.start()] + link + word[match.end() :]
    return word if len(word) <= limit else None


def _clip_entity_safe(text: str, length: int) -> str:
    """The first `length` characters of `text`, not ending inside an `&amp;`-style entity."""
    cut = text[: max(length, 0)]
    amp = cut.rfind("&", max(0, len(cut) - 6))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut
