"""Slack's Block Kit limits, checked by the fake the way Slack refuses a post or a view."""

from __future__ import annotations

from typing import Any

KNOWN = frozenset({"section", "header", "context", "divider", "actions", "input", "image", "rich_text"})
VIEW_TYPES = frozenset({"home", "modal"})


def _text_problem(where: str, text: Any, limit: int, kind: str | None = None) -> list[str]:
    if not isinstance(text, dict) or not isinstance(text.get("text"), str):
        return [f"{where}: text object missing"]
    if kind is not None and text.get("type") != kind:
        return [f"{where}: must be {kind}"]
    if not text["text"]:
        return [f"{where}: empty text"]
    if len(text["text"]) > limit:
        return [f"{where}: longer than {limit} characters"]
    return []


def _element_problems(where: str, element: dict[str, Any]) -> list[str]:
    if element.get("type") == "button":
        problems = _text_problem(f"{where}.text", element.get("text"), 75, "plain_text")
        if not element.get("action_id"):
            problems.append(f"{where}: button without action_id")
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"{where}: value longer than 2000")
        return problems
    return []


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
            problems += _text_problem(f"{where}.text", block.get("text"), 3000)
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
            if not isinstance(block.get("element"), dict):
                problems.append(f"{where}: input without element")
    return problems


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
    problems = block_problems(view.get("blocks"), 100)
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
