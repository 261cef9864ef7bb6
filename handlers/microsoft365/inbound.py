"""Commands from Teams through the one inbound path: a message read by polling or announced by a
change notification is recorded in the inbox once (its message id is the key, so delta, notification,
redelivery or an edit never carry it out twice); the inbox worker finds who wrote (directory),
carries the command out (`Dispatcher.execute`) and answers in the same thread or chat."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from bot.commands import Command, Help
from bot.core import Core
from bot.dispatch import Reply
from bot.html_text import paragraphs
from bot.inbox import Executed
from bot.parser import parse
from handlers.microsoft365.directory import Directory
from handlers.microsoft365.errors import GraphError, LoginNeeded
from handlers.microsoft365.inbound_message import Incoming, Where, read_message
from handlers.microsoft365.teams import TeamsApi

log = logging.getLogger(__name__)

# Older messages are not carried out (an edit or a reaction brings one back into the delta); the
# inbox keeps a finished request's key longer than this (bot.inbox.KEEP).
MAX_AGE = timedelta(days=1)
CHANNEL, KIND, KEY_PREFIX = "microsoft365", "teams_message", "teams:"


def command_of(text: str) -> Command:
    return parse(text) if text.strip() else Help()


class InboundCommands:
    def __init__(self, core: Core, teams: TeamsApi, directory: Directory, where: Where) -> None:
        self.core, self.teams, self.directory, self.where = core, teams, directory, where

    def handle(self, raw: dict[str, Any], *, since: datetime | None = None) -> bool:
        """Record the command in `raw` if it is one, new, and not older than `since`; True if it was
        recorded (the inbox worker carries it out)."""
        incoming = read_message(raw, self.where)
        if incoming is None:
            return False
        now = self.core.clock.now()
        if incoming.created is not None and (
            incoming.created < now - MAX_AGE or (since is not None and incoming.created < since)
        ):
            return False
        if not self.core.inbox.accept(CHANNEL, KIND, KEY_PREFIX + incoming.key, payload_of(incoming)):
            log.info("Teams: message %s seen before: ignored", incoming.message_id)
            return False
        return True

    def carry_out(self, payload: dict[str, Any], executed: Executed) -> None:
        """The inbox worker's work for a Teams message: who wrote, the command, the answer."""
        incoming = incoming_of(payload)
        actor = self.directory.actor(incoming.sender_id, incoming.sender_name)
        reply = self.core.dispatcher.execute(actor, command_of(incoming.text), within=executed)
        self.answer(incoming, reply)

    def apologise(self, payload: dict[str, Any]) -> None:
        """The generic error, where the command was written."""
        config = self.core.config
        self.answer(incoming_of(payload), Reply("error", {}, config.language, config.timezone))

    def answer(self, incoming: Incoming, reply: Reply) -> None:
        renderer = self.core.renderer
        content = paragraphs(renderer.reply(reply, fmt="html"))
        if reply.key == "help":
            extra = renderer.render(
                "microsoft365/help_extra.txt",
                {"prefix": self.where.prefix},
                language=reply.language,
                timezone=reply.timezone,
                fmt="html",
            )
            content += paragraphs(extra)
        try:
            if incoming.chat_id is not None:
                self.teams.post_to_chat(incoming.chat_id, content)
            elif incoming.thread_id is not None:
                self.teams.reply_in_channel(incoming.thread_id, content)
        except (GraphError, LoginNeeded) as exc:
            log.warning("Teams: the answer to message %s was not posted: %s", incoming.message_id, exc)


def payload_of(incoming: Incoming) -> dict[str, Any]:
    data = asdict(incoming)
    data["created"] = incoming.created.isoformat() if incoming.created else None
    return data


def incoming_of(payload: dict[str, Any]) -> Incoming:
    created = payload.get("created")
    return Incoming(**{**payload, "created": datetime.fromisoformat(created) if created else None})
