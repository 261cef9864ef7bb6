"""The Teams channel post as an Adaptive Card: the message's text, how to write a command in the
channel, and link buttons (join the meeting, subscribe and leave on the series' web pages).

Graph takes a card as an attachment of the chatMessage: `contentType`
`application/vnd.microsoft.card.adaptive`, `content` the card serialized as a JSON string, and the
message body naming it, `<attachment id="…"></attachment>`. Every text is a TextRun in a
RichTextBlock, which Teams never reads as markdown, so a title such as `[klikk](https://…)` stays
text. Version 1.4: what Teams renders on every client. The id is made from the delivery key, so a
post in doubt is found by it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from bot.delivery import kinds
from bot.labels import LabelTable
from bot.rendering import Renderer
from bot.views import SeriesView, SessionView

CARD = "application/vnd.microsoft.card.adaptive"
VERSION = "1.4"
# Teams refuses a message over about 28 KB (413 MessageSizeTooBig); the post stays below this, as
# sent (the card's JSON inside the message's JSON, non-ASCII escaped), its text cut if need be.
MOST_POST_BYTES = 24_000
URL = re.compile(r"https://\S+")
# Posts that invite people to subscribe, and those whose meeting is still ahead.
RECRUITING = frozenset({kinds.INVITATION, kinds.REMINDER, kinds.CHANGE, kinds.FOLLOWUP})
JOINABLE = frozenset({kinds.INVITATION, kinds.REMINDER, kinds.CHANGE})


@dataclass(frozen=True)
class CardPost:
    """What POST …/messages takes for a card."""

    subject: str
    attachment_id: str
    card: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        named = f'<attachment id="{self.attachment_id}"></attachment>'
        return {
            "subject": self.subject[:250],
            "body": {"contentType": "html", "content": named},
            "attachments": [
                {
                    "id": self.attachment_id,
                    "contentType": CARD,
                    "contentUrl": None,
                    "content": json.dumps(self.card, ensure_ascii=False),
                    "name": None,
                    "thumbnailUrl": None,
                }
            ],
        }


def attachment_id(key: str) -> str:
    """The card's id in the post: the same for the same delivery, whoever sends it."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class CardLabels(LabelTable):
    """The `key: text` lines of `microsoft365/card.txt`, per language and command prefix."""

    def __init__(self, renderer: Renderer, prefix: str) -> None:
        super().__init__(renderer, "microsoft365/card.txt", {"prefix": prefix})


def session_card(
    key: str,
    kind: str,
    subject: str,
    body: str,
    labels: dict[str, str],
    series: SeriesView,
    session: SessionView | None,
    public_base_url: str | None,
) -> CardPost:
    """The card for one channel post: `body` is the message's plain text (its lines with a link
    open it when clicked)."""
    lines = body.splitlines()
    buttons = _buttons(kind, labels, series, session, public_base_url)
    hint = labels["hint"] if kind != kinds.INVITATION else None  # the invitation says how itself
    post = CardPost(subject, attachment_id(key), _card(subject, lines, hint, buttons))
    while len(lines) > 1 and _size(post) > MOST_POST_BYTES:  # a long follow-up: its last lines go
        lines = lines[: max(1, len(lines) * 9 // 10)]
        post = CardPost(subject, post.attachment_id, _card(subject, [*lines, "…"], hint, buttons))
    return post


def _size(post: CardPost) -> int:
    return len(json.dumps(post.as_json()).encode())


def _card(subject: str, lines: list[str], hint: str | None, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    blocks = [_text(subject, weight="bolder", size="medium")]
    new_paragraph = True
    for line in lines:
        if not line.strip():
            new_paragraph = True
            continue
        blocks.append(_line(line.strip(), "default" if new_paragraph else "none"))
        new_paragraph = False
    if hint is not None:
        blocks.append(_text(hint, isSubtle=True))
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": VERSION,
        "body": blocks,
        "actions": buttons,
    }


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def _line(line: str, spacing: str) -> dict[str, Any]:
    """One line of the text; a line with a link opens it when clicked (a TextRun is never a link)."""
    block = {**_text(line), "spacing": spacing}
    found = URL.search(line)
    if found is not None:
        block["inlines"][0]["selectAction"] = {"type": "Action.OpenUrl", "url": found.group(0)}
    return block


def _buttons(
    kind: str,
    labels: dict[str, str],
    series: SeriesView,
    session: SessionView | None,
    public_base_url: str | None,
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if session is not None and session.join_url and kind in JOINABLE and not session.cancelled:
        found.append(_open(labels["join"], session.join_url))
    if public_base_url and kind in RECRUITING:
        found.append(_open(labels["subscribe"], f"{public_base_url}/s/{series.slug}/subscribe"))
        found.append(_open(labels["unsubscribe"], f"{public_base_url}/s/{series.slug}/leave"))
    return found


def _open(title: str, url: str) -> dict[str, Any]:
    return {"type": "Action.OpenUrl", "title": title, "url": url}
