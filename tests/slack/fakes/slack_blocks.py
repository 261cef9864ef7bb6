"""Slack's Block Kit limits, checked by the fake the way Slack refuses a post or a view.

From Slack's reference (docs.slack.dev/reference/block-kit): a section's text ≤ 3000 characters (its
fields ≤ 10 of ≤ 2000), a header ≤ 150, a context 1-10 elements, a button's text ≤ 75, its value ≤ 2000
and its url ≤ 3000, an input's label and hint ≤ 2000, a plain_text_input's max_length ≤ 3000 (and its
initial_value no longer than that), ≤ 50 blocks in a message and ≤ 100 in a view; `verbatim` only on
mrkdwn, `emoji` only on plain_text. A message's blocks together carry at most about 12,000 characters of
text (Slack answers `msg_blocks_too_long`; undocumented, stated by Slack's SDK team in
slackapi/bolt-js#2509 and measured there at 11,300-13,300): the fake refuses above MESSAGE_TEXT.
"""

from __future__ import annotations

from typing import Any

KNOWN = frozenset({"section", "header", "context", "divider", "actions", "input", "image", "rich_text"})
VIEW_TYPES = frozenset({"home", "modal"})
MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
MESSAGE_TEXT = 12_000  # characters of text in all of a message's blocks together
INPUT_MAX = 3000  # a plain_text_input's max_length


def _text_problem(where: str, text: Any, limit: int, kind: str | None = None) -> list[str]:
    if not isinstance(text, dict) or not isinstance(text.get("text"), str):
        return [f"{where}: text object missing"]
    if kind is not None and text.get("type") != kind:
        return [f"{where}: must be {kind}"]
    if text.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{where}: unknown text type {text.get('type')!r}"]
    if "verbatim" in text and (text["type"] != "mrkdwn" or not isinstance(text["verbatim"], bool)):
        return [f"{where}: verbatim is a boolean of mrkdwn only"]
    if "emoji" in text and (text["type"] != "plain_text" or not isinstance(text["emoji"], bool)):
        return [f"{where}: emoji is a boolean of plain_text only"]
    if not text["text"]:
        return [f"{where}: empty text"]
    if len(text["text"]) > limit:
        return [f"{where}: longer than {limit} characters"]
    return []


def message_text_length(blocks: list[Any]) -> int:
    """The characters of text a message's blocks carry, summed over every text object in them."""
    total = 0

    def walk(node: object) -> None:
        nonlocal total
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
                total += len(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return total


def _element_problems(where: str, element: dict[str, Any]) -> list[str]:
    if element.get("type") == "button":
        problems = _text_problem(f"{where}.text", element.get("text"), 75, "plain_text")
        if not element.get("action_id"):
            problems.append(f"{where}: button without action_id")
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"{where}: value longer than 2000")
        if len(str(element.get("url", ""))) > 3000:
            problems.append(f"{where}: url longer than 3000")
        return problems
    if element.get("type") == "plain_text_input":
        return _input_problems(where, element)
    return []


def _input_problems(where: str, element: dict[str, Any]) -> list[str]:
    """A plain_text_input: max_length and min_length at most 3000, initial_value within max_length."""
    problems: list[str] = []
    most = element.get("max_length", INPUT_MAX)
    if not isinstance(most, int) or not 1 <= most <= INPUT_MAX:
        problems.append(f"{where}: max_length must be 1-{INPUT_MAX}")
        most = INPUT_MAX
    least = element.get("min_length", 0)
    if not isinstance(least, int) or not 0 <= least <= INPUT_MAX:
        problems.append(f"{where}: min_length must be 0-{INPUT_MAX}")
    initial = element.get("initial_value")
    if initial is not None and (not isinstance(initial, str) or len(initial) > most):
        problems.append(f"{where}: initial_value longer than max_length {most}")
    return problems


def block_problems(blocks: Any, limit: int) -> list[str]:
    """What Slack would refuse in `blocks` (an empty list when nothing)."""
    if not isinstance(blocks, list):
        return ["blocks: not a list"]
    problems = [f"blocks: more than {limit}"] if len(blocks) > limit else []
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type")
        if kind not in KNOWN:
            problems.append(f"{where}: unknown type {kind!r}")
            continue
        if "block_id" in block:
            if block["block_id"] in block_ids:
                problems.append(f"{where}: duplicate block_id {block['block_id']!r}")
            block_ids.add(block["block_id"])
        if kind == "section":
            problems += _section_problems(where, block)
            if "accessory" in block:
                problems += _element_problems(f"{where}.accessory", block["accessory"])
        elif kind == "header":
            problems += _text_problem(f"{where}.text", block.get("text"), 150, "plain_text")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}: context needs 1-10 elements")
            for j, element in enumerate(elements):
                problems += _text_problem(f"{where}.elements[{j}]", element, 3000)
        elif kind == "actions":
            problems += _actions_problems(where, block.get("elements") or [])
        elif kind == "input":
            problems += _text_problem(f"{where}.label", block.get("label"), 2000, "plain_text")
            if "hint" in block:
                problems += _text_problem(f"{where}.hint", block["hint"], 2000, "plain_text")
            if not isinstance(block.get("element"), dict):
                problems.append(f"{where}: input without element")
            else:
                problems += _element_problems(f"{where}.element", block["element"])
    return problems


def _section_problems(where: str, block: dict[str, Any]) -> list[str]:
    if "text" not in block and "fields" not in block:
        return [f"{where}: a section needs text or fields"]
    problems = _text_problem(f"{where}.text", block["text"], 3000) if "text" in block else []
    fields = block.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 10:
        return [*problems, f"{where}.fields: at most 10"]
    for j, field in enumerate(fields):
        problems += _text_problem(f"{where}.fields[{j}]", field, 2000)
    return problems


def message_problems(blocks: Any) -> tuple[str, list[str]] | None:
    """Slack's error and details for a message's `blocks`, or None when Slack would take them."""
    problems = block_problems(blocks, MESSAGE_BLOCKS)
    if problems:
        return "invalid_blocks", problems
    if (length := message_text_length(blocks)) > MESSAGE_TEXT:
        return "msg_blocks_too_long", [f"blocks: {length} characters of text, more than {MESSAGE_TEXT}"]
    return None


def _actions_problems(where: str, elements: list[dict[str, Any]]) -> list[str]:
    problems = [] if 1 <= len(elements) <= 25 else [f"{where}: actions need 1-25 elements"]
    action_ids = [e.get("action_id") for e in elements]
    if len(action_ids) != len(set(action_ids)):
        problems.append(f"{where}: duplicate action_id in one block")
    for j, element in enumerate(elements):
        problems += _element_problems(f"{where}.elements[{j}]", element)
    return problems


def view_problems(view: Any) -> list[str]:
    if not isinstance(view, dict) or view.get("type") not in VIEW_TYPES:
        return ["view: type must be home or modal"]
    problems = block_problems(view.get("blocks"), VIEW_BLOCKS)
    if view["type"] == "modal":
        problems += _text_problem("view.title", view.get("title"), 24, "plain_text")
        for name in ("submit", "close"):
            if name in view:
                problems += _text_problem(f"view.{name}", view[name], 24, "plain_text")
        if any(b.get("type") == "input" for b in view.get("blocks") or []) and "submit" not in view:
            problems.append("view: a modal with inputs needs submit")
        if len(view.get("private_metadata", "")) > 3000:
            problems.append("view.private_metadata: longer than 3000")
    return problems
