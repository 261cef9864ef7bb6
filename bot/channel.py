"""The seam between the core and a channel: everything a channel offers, as one declared type.

A channel is a whole platform, in and out (`handlers/<name>/`): the HTTP routes it mounts on the
bot's one web server, the senders the delivery engine drives, the inbound work the inbox worker
carries out for it, its periodic jobs, its background work (`start`/`stop`), and its health. It is
built from the narrow `Core` (bot/core.py) and its own settings section, and listed explicitly in
`bot/entry/channels.py`; the runtime checks at start-up that each one is a `Channel`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from bot.bounce_source import BounceSource
from bot.delivery.channels import Sender
from bot.inbox import Work
from bot.mail import Mailer
from bot.services.colleagues import ColleagueMailer
from bot.services.numbers import OutsideReach


@dataclass(frozen=True)
class ChannelJob:
    """A periodic job of a channel, registered with the core's jobs (leader only, stable id)."""

    id: str
    run: Callable[[], object]
    seconds: float


class Channel(ABC):
    # The channel's name: the prefix of its inbox kinds ("slack.command"), of its jobs and templates.
    name: ClassVar[str]
    # Its own templates, `<language>/...` under this folder, rendered as "<name>/..." (see rendering).
    templates: ClassVar[Path | None] = None

    @abstractmethod
    def health(self) -> str:
        """ "on", or what stops it from doing its work ("degraded", "reconnecting (<why>)"): any
        state but "on" (and "off", not configured) makes /healthz degraded."""

    def routes(self) -> Sequence[BaseRoute]:
        """HTTP routes on the bot's web server (the front process only)."""
        return ()

    def senders(self) -> Sequence[Sender]:
        """Its outgoing side, driven by the delivery engine (both processes: the planner asks them
        who they reach, the worker sends)."""
        return ()

    def work(self) -> Mapping[str, Work]:
        """What the inbox worker does with each kind of request this channel recorded, by kind."""
        return {}

    def apologise(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Tell the user a request of theirs failed for good (the generic error reply), if the
        channel still can; called by the inbox worker after the error policy has logged it."""
        return None

    def jobs(self) -> Sequence[ChannelJob]:
        """Periodic jobs, run by the front's scheduler with the core's jobs (leader only)."""
        return ()

    def session_reach(self, s: Session, session_id: int) -> Sequence[OutsideReach]:
        """What it delivered for a session outside the outbox (Exchange's meeting invitations), for
        the session's numbers."""
        return ()

    def bounce_source(self) -> BounceSource | None:
        """A mailbox where the mail this channel sends comes back when it cannot be delivered."""
        return None

    def mail_transport(self) -> Mailer | None:
        """A mail transport, if this channel carries mail (Exchange through Graph, an SMTP relay)."""
        return None

    def colleague_mailer(self) -> ColleagueMailer | None:
        """What queues the mail to an invited colleague, if this channel sends it (the web pages'
        confirmation mail, whose link they answer)."""
        return None

    def start(self) -> None:
        """Start background work (a Socket Mode connection, reading Teams); the front process only."""
        return None

    def stop(self) -> None:
        """Stop what `start` started and release what the channel holds."""
        return None


def checked(channels: Sequence[object]) -> list[Channel]:
    """The channels, each verified to be a declared `Channel` with a unique name (start-up check)."""
    names: set[str] = set()
    for channel in channels:
        if not isinstance(channel, Channel):
            raise TypeError(f"{channel!r} is not a bot.channel.Channel")
        name = getattr(type(channel), "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(channel).__name__} has no channel name")
        if name in names:
            raise TypeError(f"two channels are called {name!r}")
        names.add(name)
    return [channel for channel in channels if isinstance(channel, Channel)]
