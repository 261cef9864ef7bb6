"""A Teams chatMessage (from delta, a notification or a chat listing) read as a possible command.

Commands are: in the network's channel, messages that mention the service account or start with
TEAMS_COMMAND_PREFIX; in a 1:1 chat with the service account, every message. The bot's own
messages, other apps' and system events are never commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.microsoft365.html import html_to_text


@dataclass(frozen=True)
class Incoming:
    key: str  # unique per message: the dedupe key
    message_id: str
    sender_id: str
    sender_name: str | None
    text: str  # the command, prefix and mention removed
    created: datetime | None
    chat_id: str | None = None  # answer in this chat...
    thread_id: str | None = None  # ...or under this channel thread


@dataclass(frozen=True)
class Where:
    """What the reader needs to know about the bot's own place in Teams."""

    self_id: Callable[[], str | None]
    prefix: str
    team_id: str | None
    channel_id: str | None
    is_one_on_one: Callable[[str], bool]


def _moment(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _after_prefix(text: str, prefix: str) -> str | None:
    if prefix and text.lower().startswith(prefix.lower()):
        rest = text[len(prefix) :]
        if not rest or rest[0].isspace() or rest[0] in ":,":
            return rest.lstrip(":, \n\t")
    return None


def read_message(raw: dict[str, Any], where: Where) -> Incoming | None:
    """The command in `raw`, or None when it is not one for the bot."""
    if raw.get("messageType", "message") != "message" or raw.get("deletedDateTime"):
        return None
    me = where.self_id()
    sender = (raw.get("from") or {}).get("user") or {}
    sender_id = sender.get("id")
    if not sender_id or sender_id == me or not raw.get("id"):
        return None
    mention_ids = frozenset(
        int(m["id"])
        for m in raw.get("mentions") or []
        if isinstance(m.get("id"), int) and ((m.get("mentioned") or {}).get("user") or {}).get("id") == me
    )
    body = raw.get("body") or {}
    content = str(body.get("content") or "")
    text = html_to_text(content, mention_ids) if body.get("contentType") == "html" else content.strip()
    message_id = str(raw["id"])
    chat_id = raw.get("chatId")
    if chat_id:
        direct = where.is_one_on_one(str(chat_id))
        command = _after_prefix(text, where.prefix)
        command = command if command is not None else (text if direct or mention_ids else None)
        place = {"chat_id": str(chat_id)}
        key = f"chat:{chat_id}:{message_id}"
    else:
        identity = raw.get("channelIdentity") or {}
        if identity.get("teamId") != where.team_id or identity.get("channelId") != where.channel_id:
            return None
        command = _after_prefix(text, where.prefix)
        command = command if command is not None else (text if mention_ids else None)
        place = {"thread_id": str(raw.get("replyToId") or message_id)}
        key = f"channel:{where.channel_id}:{message_id}"
    if command is None:
        return None
    name = sender.get("displayName")
    return Incoming(
        key[:300], message_id, str(sender_id), name, command, _moment(raw.get("createdDateTime")), **place
    )
