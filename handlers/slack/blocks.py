"""Block Kit pieces as plain dicts, kept within Slack's limits so a long title never gets a post refused.

Text given to `mrkdwn`/`section(s)` must already be escaped (rendered with fmt="mrkdwn"); it is sent
`verbatim`, so Slack makes no link of a bare URL, channel name or name in it: a link is written as
`<url|label>` (the renderer's `link`). `plain` text is never interpreted by Slack and needs no escaping.
Long mrkdwn becomes several sections (`sections`, split in `mrkdwn_split.py`), never cut inside a link.
"""

from __future__ import annotations

from typing import Any

from handlers.slack.mrkdwn_split import split_mrkdwn

Block = dict[str, Any]

SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
MODAL_TITLE = 24
INPUT_LABEL = 2000
INPUT_MAX = 3000  # a plain_text_input's max_length, at most
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
# The text all of a message's blocks may carry together. Slack refuses more with msg_blocks_too_long
# at about 12,000 characters (undocumented: slackapi/bolt-js#2509, #2867); kept well below.
MESSAGE_TEXT = 10_000


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis, never in the middle of an `&amp;` entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", max(0, len(cut) - 6))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def plain(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    """Escaped mrkdwn, verbatim; over the limit it ends at a line or a space before it (never inside a
    link) with an ellipsis. Use `sections` for text that must arrive whole."""
    if len(text) > SECTION_TEXT:
        text = split_mrkdwn(text, SECTION_TEXT - 1)[0] + "…"
    return {"type": "mrkdwn", "text": text or " ", "verbatim": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_TEXT)}


def section(text: str, accessory: dict[str, Any] | None = None, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def sections(text: str, accessory: dict[str, Any] | None = None) -> list[Block]:
    """Long mrkdwn as as many sections as it takes, split between paragraphs, else lines, else words
    (never inside a link); `accessory` goes on the first."""
    chunks = split_mrkdwn(text, SECTION_TEXT) or [" "]
    return [section(chunk, accessory if i == 0 else None) for i, chunk in enumerate(chunks)]


def text_length(blocks: list[Block]) -> int:
    """The characters of text in `blocks`, summed over every text object (what Slack counts)."""
    total = 0
    stack: list[Any] = [blocks]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
                total += len(node["text"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return total


def message_parts(head: list[Block], body: list[Block], tail: list[Block]) -> list[list[Block]]:
    """`head`, `body` and `tail` as one message's blocks, or, when that is over Slack's limits (blocks,
    text), as several: the first with the head, as much of the body as fits and the tail; the rest of
    the body in as many messages as it takes."""
    parts: list[list[Block]] = []
    current = list(head)
    reserved = list(tail)  # the first message keeps room for the tail
    for block in body:
        if not _fits([*current, block, *reserved]) and len(current) > (len(head) if not parts else 0):
            parts.append([*current, *reserved])
            current, reserved = [], []
        current.append(block)
    parts.append([*current, *reserved])
    return parts


def _fits(blocks: list[Block]) -> bool:
    return len(blocks) <= MESSAGE_BLOCKS and text_length(blocks) <= MESSAGE_TEXT


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def divider() -> Block:
    return {"type": "divider"}


def button(
    label: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(label, BUTTON_TEXT), "action_id": action_id}
    if value is not None:
        element["value"] = value[:BUTTON_VALUE]
    if url is not None:
        element["url"] = url
    if style is not None:
        element["style"] = style
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id is not None:
        block["block_id"] = block_id
    return block
