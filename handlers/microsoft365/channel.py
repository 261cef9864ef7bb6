"""Microsoft 365 as a `Channel`: `POST /graph/notifications` on the shared web server, the mail and
Teams senders, Exchange as the bot's mail transport, the inbox work for Teams messages, and the
background work (calendar, reading Teams, subscriptions) on the front."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from bot.bounce_source import BounceSource
from bot.channel import Channel
from bot.core import Core
from bot.delivery.channels import Sender
from bot.inbox import Work
from bot.mail import Mailer
from bot.services.numbers import OutsideReach
from handlers.microsoft365 import NAME, TEMPLATES
from handlers.microsoft365.inbound import KIND
from handlers.microsoft365.meeting_reach import meeting_invitations
from handlers.microsoft365.runtime import GraphRuntime
from handlers.microsoft365.service import Microsoft365
from handlers.microsoft365.settings import MicrosoftSettings
from handlers.microsoft365.status import channel_state

log = logging.getLogger(__name__)


class Microsoft365Channel(Channel):
    name = NAME
    templates = TEMPLATES

    def __init__(self, core: Core, settings: MicrosoftSettings) -> None:
        self.graph = Microsoft365(core, settings)
        self.runtime: GraphRuntime | None = None

    def health(self) -> str:
        return channel_state(self.graph)

    def routes(self) -> Sequence[BaseRoute]:
        return [self.graph.inbox.route()]

    def senders(self) -> Sequence[Sender]:
        return self.graph.senders()

    def session_reach(self, s: Session, session_id: int) -> Sequence[OutsideReach]:
        """The invitation by mail is the Teams meeting itself: Exchange sent it to the attendees."""
        return meeting_invitations(s, session_id)

    def bounce_source(self) -> BounceSource:
        """The organiser mailbox's inbox, where Exchange puts its non-delivery reports."""
        return self.graph.bounces

    def mail_transport(self) -> Mailer:
        """Exchange, from the organiser mailbox, in the same pace and day count as the deliveries."""
        return self.graph.mailer()

    def work(self) -> Mapping[str, Work]:
        return {KIND: self.graph.inbound.carry_out}

    def apologise(self, kind: str, payload: Mapping[str, Any]) -> None:
        if kind == KIND:
            self.graph.inbound.apologise(dict(payload))

    def start(self) -> None:
        runtime = GraphRuntime(self.graph)
        self.graph.subscriptions.poll_now = lambda: runtime.run_now("teams.poll")
        log.info("Microsoft 365: on (mail and meetings from %s)", self.graph.settings.organiser)
        self.runtime = runtime.start()

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime = None
        self.graph.close()
