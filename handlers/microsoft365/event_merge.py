"""An update merged into the event as it is now, so it changes only what the bot owns: a new body keeps
the online meeting's join section (the "meeting blob" Exchange appended; without it Graph disables the
meeting), and the attendee list keeps everyone the organiser added in Outlook.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence
from typing import Any

# A rule of underscores, alone in its element: Teams draws one above and one below the join section.
_RULE = re.compile(r"(?:<div[^>]*>\s*(?:<span[^>]*>\s*)?)?_{30,}(?:\s*</span>)?(?:\s*</div>)?", re.I)
_INNER = re.compile(r"<body[^>]*>(.*)</body>", re.I | re.S)


def join_section(body: str, join_url: str) -> str | None:
    """The join section of an online meeting's body (HTML as Graph returns it), or None if not found."""
    content = _INNER.search(body)
    text = content.group(1) if content else body
    at = max(text.find(join_url), text.find(html.escape(join_url)))
    if at < 0:
        return None
    rules = list(_RULE.finditer(text))
    above = [m for m in rules if m.end() <= at]
    below = [m for m in rules if m.start() >= at]
    if not above:
        return None
    return text[above[-1].start() : below[0].end() if below else len(text.rstrip())]


def address(attendee: object) -> str | None:
    """An attendee's e-mail address, lower case (None for a malformed entry)."""
    found = (attendee.get("emailAddress") or {}).get("address") if isinstance(attendee, dict) else None
    return found.lower() if isinstance(found, str) and found else None


def merged_attendees(
    current: Sequence[dict[str, Any]], ours: Collection[str], wanted: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The event's attendees with ours in step: those we added who are not `wanted` any more taken
    off, the `wanted` we never added put on; everyone else (the organiser's own) as they are."""
    want = {address(a) for a in wanted}
    kept = [
        {"emailAddress": a["emailAddress"], "type": a.get("type", "required")}
        for a in current
        if address(a) and (address(a) in want or address(a) not in ours)
    ]
    present = {address(a) for a in kept}
    return kept + [a for a in wanted if address(a) not in ours and address(a) not in present]
