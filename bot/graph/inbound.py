"""Commands from Teams through the core: who wrote (directory), once only (a unique key per message
in the database), `Dispatcher.execute`, and the answer in the same thread or chat."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.app import App
from bot.commands import Command, Help
from bot.dispatch import Reply
from bot.graph.directory import Directory
from bot.graph.errors import GraphError, LoginNeeded
from bot.graph.html import paragraphs
from bot.graph.inbound_message import Incoming, Where, read_message
from bot.graph.teams import TeamsApi
from bot.models import GraphProcessedMessage
from bot.parser import parse

log = logging.getLogger(__name__)

# Older messages are not carried out (an edit or a reaction brings one back into the delta).
MAX_AGE = timedelta(days=1)
KEEP = timedelta(days=3)


def command_of(text: str) -> Command:
    return parse(text) if text.strip() else Help()


class InboundCommands:
    def __init__(self, app: App, teams: TeamsApi, directory: Directory, where: Where) -> None:
        self.app, self.teams, self.directory, self.where = app, teams, directory, where

    def handle(self, raw: dict[str, Any], *, since: datetime | None = None) -> bool:
        """Carry out the command in `raw` if it is one, new, and not older than `since`; True if done."""
        incoming = read_message(raw, self.where)
        if incoming is None:
            return False
        now = self.app.clock.now()
        if incoming.created is not None and (
            incoming.created < now - MAX_AGE or (since is not None and incoming.created < since)
        ):
            return False
        if not self.claim(incoming.key):
            log.info("Teams: message %s seen before: ignored", incoming.message_id)
            return False
        actor = self.directory.actor(incoming.sender_id, incoming.sender_name)
        reply = self.app.dispatcher.execute(actor, command_of(incoming.text))
        self.answer(incoming, reply)
        return True

    def answer(self, incoming: Incoming, reply: Reply) -> None:
        renderer = self.app.renderer
        content = paragraphs(renderer.reply(reply, fmt="html"))
        if reply.key == "help":
            extra = renderer.render(
                "teams/help_extra.txt",
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

    def claim(self, key: str) -> bool:
        """True the first time `key` is claimed, in any process."""
        try:
            with self.app.db.transaction() as s:
                s.add(GraphProcessedMessage(key=key, created_at=self.app.clock.now()))
        except IntegrityError:
            return False
        return True

    def prune(self) -> None:
        with self.app.db.transaction() as s:
            s.execute(
                delete(GraphProcessedMessage).where(
                    GraphProcessedMessage.created_at < self.app.clock.now() - KEEP
                )
            )
