"""What every service call needs: the open transaction, who acts, through which channel, and when."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.commands import Actor


@dataclass(frozen=True)
class CoreConfig:
    """The settings the core's rules depend on."""

    timezone: str
    language: str
    secret_key: str
    public_base_url: str | None = None  # where the public pages are, for links in messages
    colleague_invites_per_day: int = 5
    colleague_invite_quiet_days: int = 30


@dataclass
class Ctx:
    s: Session
    actor: Actor
    now: datetime
    config: CoreConfig
    # The channels' parts of an erasure (bot.services.privacy.Eraser), from the composition root.
    erasers: Sequence[Callable[[Session, Any], None]] = ()
    # Queues the mail to an invited colleague (bot.services.colleagues.ColleagueMailer), from the
    # composition root: the web channel's confirmation mail. None where no channel sends it.
    colleague_mail: Callable[[Session, Any], None] | None = None

    @property
    def channel(self) -> str:
        return self.actor.platform
