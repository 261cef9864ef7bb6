"""Slack payloads to neutral commands: the slash command's text, and the bot's buttons.

`/baerekraft <text>` speaks the core's command language (empty text is the help). Two Slack-only
words open a modal instead: `planlegg`/`plan` (a new session, or `planlegg 12` to edit session 12)
and `lysark 12`/`slides 12` (add slides to session 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot import commands as c
from bot.parser import parse
from bot.text import normalise
from handlers.slack import actions as ids

PLAN_WORDS = frozenset({"planlegg", "plan", "planlaeg"})
SLIDES_WORDS = frozenset({"lysark", "slides"})


@dataclass(frozen=True)
class ModalRequest:
    """`/baerekraft planlegg …` or `lysark N`: which modal, for which series or session."""

    form: str  # ids.SESSION_FORM or ids.LINK_FORM
    series: str | None = None
    session_id: int | None = None


def modal_request(text: str) -> ModalRequest | None:
    words = normalise(text).split()
    if not words or len(words) > 2:
        return None
    argument = words[1] if len(words) == 2 else None
    number = int(argument) if argument is not None and argument.isdigit() else None
    if words[0] in PLAN_WORDS:
        if number is not None:
            return ModalRequest(ids.SESSION_FORM, session_id=number)
        return ModalRequest(ids.SESSION_FORM, series=argument)
    if words[0] in SLIDES_WORDS and number is not None:
        return ModalRequest(ids.LINK_FORM, session_id=number)
    return None


def command_of(text: str) -> c.Command:
    """The slash command's text as a command; nothing at all asks for the help."""
    return parse(text) if text.strip() else c.Help()


def button_command(action: dict[str, Any]) -> c.Command | None:
    """A subscribe/unsubscribe button (from App Home or any message) as a command."""
    slug = action.get("value") or None
    if action.get("action_id") == ids.SUBSCRIBE:
        return c.Subscribe(series=slug)
    if action.get("action_id") == ids.UNSUBSCRIBE:
        return c.Unsubscribe(series=slug)
    return None


def changes_subscription(command: c.Command) -> bool:
    return isinstance(command, c.Subscribe | c.Unsubscribe)
