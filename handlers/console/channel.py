"""The console as a `Channel`: a line is a command for the inbox; announcements are printed, and
mail goes to the development mailbox (`.eml` files in MAIL_DIR) when no mail transport is set up."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import OperationalError

from bot.channel import Channel
from bot.commands import Actor
from bot.core import Core
from bot.delivery.channels import Sender
from bot.dispatch import Reply
from bot.inbox import Executed, RequestFailed, Work
from bot.mail import Mailer
from bot.mail_delivery import MailDelivery
from bot.parser import parse
from handlers.console import NAME
from handlers.console.handler import ConsoleHandler
from handlers.console.mailbox import EmlFolder
from handlers.console.mailer import ConsoleMailer
from handlers.console.sender import ConsoleSender

LINE = "line"
MAILBOX_NOTE = "Ingen e-post sendes herfra: e-postene skrives som .eml-filer til {where}"
log = logging.getLogger(__name__)


class ConsoleChannel(Channel):
    name = NAME

    def __init__(
        self,
        core: Core,
        out: TextIO | None = None,
        lock: threading.Lock | None = None,
        mail_dir: Path | None = None,
    ) -> None:
        """`mail_dir`: the development mailbox, for a bot without any mail transport."""
        self.core = core
        self.out = out or sys.stdout
        self.lock = lock or threading.Lock()
        self.mailbox = EmlFolder(mail_dir, core.clock, self.out, self.lock) if mail_dir is not None else None

    def health(self) -> str:
        return "on"

    def senders(self) -> Sequence[Sender]:
        senders: list[Sender] = [ConsoleSender(self.core.renderer, self.out, self.lock)]
        if self.mailbox is not None:
            senders.append(
                MailDelivery(self.core.renderer, self.core.settings, self.mailbox, self.core.clock)
            )
        return senders

    def mail_transport(self) -> Mailer:
        return ConsoleMailer(self.out, self.lock, self.mailbox, self.core.clock)

    def start(self) -> None:
        if self.mailbox is not None:
            where = self.mailbox.folder.resolve()
            log.info("no mail transport: mails are written to %s as .eml files", where)
            with self.lock:
                print(MAILBOX_NOTE.format(where=where), file=self.out, flush=True)

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
