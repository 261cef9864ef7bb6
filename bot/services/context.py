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


@dataclass
class Ctx:
    s: Session
    actor: Actor
    now: datetime
    config: CoreConfig
    # The channels' parts of an erasure (bot.services.privacy.Eraser), from the composition root.
    erasers: Sequence[Callable[[Session, Any], None]] = ()

    @property
    def channel(self) -> str:
        return self.actor.platform
