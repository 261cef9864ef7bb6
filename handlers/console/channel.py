"""The console as a `Channel`: a line is a command for the inbox; announcements and mail are printed."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, TextIO

from sqlalchemy.exc import OperationalError

from bot.channel import Channel
from bot.commands import Actor
from bot.core import Core
from bot.delivery.channels import Sender
from bot.dispatch import Reply
from bot.inbox import Executed, RequestFailed, Work
from bot.mail import Mailer
from bot.parser import parse
from handlers.console import NAME
from handlers.console.handler import ConsoleHandler
from handlers.console.mailer import ConsoleMailer
from handlers.console.sender import ConsoleSender

LINE = "line"


class ConsoleChannel(Channel):
    name = NAME

    def __init__(self, core: Core, out: TextIO | None = None, lock: threading.Lock | None = None) -> None:
        self.core = core
        self.out = out or sys.stdout
        self.lock = lock or threading.Lock()

    def health(self) -> str:
        return "on"

    def senders(self) -> Sequence[Sender]:
        return [ConsoleSender(self.core.renderer, self.out, self.lock)]

    def mail_transport(self) -> Mailer:
        return ConsoleMailer(self.out, self.lock)

    def work(self) -> Mapping[str, Work]:
        return {LINE: self.carry_out_line}

    def handler(self, actor: Actor) -> ConsoleHandler:
        """The read-print loop for `actor` (the person at the keyboard)."""
        return ConsoleHandler(lambda line: self.respond(actor, line), self.out, self.lock)

    def respond(self, actor: Actor, line: str) -> str:
        """One line in, one rendered reply out, through the inbox (carried out here and now)."""
        payload = {LINE: line, "actor": asdict(actor)}
        try:
            return str(self.core.inbox.run_now(self.name, LINE, payload, self.carry_out_line))
        except OperationalError:
            return self._generic("unavailable", actor)
        except RequestFailed:  # the error policy has it already
            return self._generic("error", actor)

    def carry_out_line(self, payload: dict[str, Any], executed: Executed) -> str:
        actor = Actor(**payload["actor"])
        reply = self.core.dispatcher.execute(actor, parse(str(payload[LINE])), within=executed)
        return self.core.renderer.reply(reply, fmt="text")

    def _generic(self, key: str, actor: Actor) -> str:
        config = self.core.config
        reply = Reply(key, {}, actor.language or config.language, config.timezone)
        return self.core.renderer.reply(reply, fmt="text")
