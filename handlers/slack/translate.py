"""Slack payloads to neutral commands: the slash command's text, and the bot's buttons.

`/baerekraft <text>` speaks the core's command language (empty text is the help), once Slack's own
escaping is undone (`plain_text`): the manifest asks Slack to send people, channels and links picked
from autocomplete as tokens (`should_escape: true`), so `gi arrangør @Kari` arrives as
`<@U123|kari>` and names Kari by her Slack id. Two Slack-only
words open a modal instead: `planlegg`/`plan` (a new session, or `planlegg 12` to edit session 12)
and `lysark 12`/`slides 12` (add slides to session 12).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot import commands as c
from bot.bounds import parse_id
from bot.parser import parse
from bot.text import normalise
from handlers.slack import actions as ids

# Slack's tokens in a user's text: <@U123|name>, <#C123|name>, <!here>, <!subteam^S1|@team>, <url|label>.
_TOKEN = re.compile(r"<([^<>\s][^<>]*)>")
# Commands whose argument is a person: a mention there means the Slack account.
_NAMES_A_PERSON = (c.GrantOrganiser, c.RevokeOrganiser)
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
    # A number is a session's; one out of range is no session (0), never a database error.
    numeric = argument is not None and argument.isascii() and argument.isdigit()
    number = (parse_id(argument) or 0) if numeric and argument is not None else None
    if words[0] in PLAN_WORDS:
        if number is not None:
            return ModalRequest(ids.SESSION_FORM, session_id=number)
        return ModalRequest(ids.SESSION_FORM, series=argument)
    if words[0] in SLIDES_WORDS and number is not None:
        return ModalRequest(ids.LINK_FORM, session_id=number)
    return None


def plain_text(text: str, *, mentions_as_ids: bool = True) -> str:
    """What the user typed, from what Slack sent: a person as `slack:U123` (or as `@name` where a
    name reads better, `mentions_as_ids=False`), a channel as `#name`, `@here` and user groups as
    written, a link as its address, and `&amp;`, `&lt;`, `&gt;` as the characters."""

    def token(found: re.Match[str]) -> str:
        target, _, label = found.group(1).partition("|")
        if target.startswith("@"):
            return f"@{label}" if label and not mentions_as_ids else f"slack:{target[1:]}"
        if target.startswith("#"):
            return f"#{label}" if label else target
        if target.startswith("!"):
            return label if label.startswith("@") else f"@{label or target[1:]}"
        if target.startswith("mailto:"):
            return target.removeprefix("mailto:")
        return target

    replaced = _TOKEN.sub(token, text)
    return replaced.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_of(text: str) -> c.Command:
    """The slash command's text as a command; nothing at all asks for the help. A mention names a
    Slack account where the command is about a person, and reads as `@name` anywhere else."""
    if not text.strip():
        return c.Help()
    command = parse(plain_text(text))
    if "<@" in text and not isinstance(command, _NAMES_A_PERSON):
        command = parse(plain_text(text, mentions_as_ids=False))
    return command


def button_command(action: dict[str, Any]) -> c.Command | None:
    """A subscribe/unsubscribe or direct-messages button (from App Home or any message) as a command."""
    slug = action.get("value") or None
    match action.get("action_id"):
        case ids.SUBSCRIBE:
            return c.Subscribe(series=slug)
        case ids.UNSUBSCRIBE:
            return c.Unsubscribe(series=slug)
        case ids.DIRECT_ON | ids.DIRECT_OFF as action_id:
            return c.SetDirectMessages(action_id == ids.DIRECT_ON, series=slug)
    return None


def changes_subscription(command: c.Command) -> bool:
    """Whether App Home shows the outcome (and is published again)."""
    return isinstance(command, c.Subscribe | c.Unsubscribe | c.SetDirectMessages)
