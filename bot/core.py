"""What a channel gets of the core: a narrow, typed interface instead of the whole running bot.

A channel reads settings and time, carries commands out through the dispatcher, renders replies,
records what it acknowledged in the inbox, queues a message a person asked for in the outbox (and
says so: `deliveries_queued`), keeps its own tables in the database, runs its leader-only work
when `is_leader()`, and reports the unexpected to `errors`. It never sees the
delivery engine, the web server or another channel; the composition root (`bot/entry/`) builds this
once and hands it to every channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session as OrmSession

from bot.clock import Clock
from bot.db import Database
from bot.delivery.leader import Leadership
from bot.delivery.planner import Planner
from bot.dispatch import Dispatcher
from bot.error_policy import ErrorPolicy
from bot.inbox import Inbox
from bot.rendering import Renderer
from bot.services.context import CoreConfig
from bot.settings import Settings


@dataclass(frozen=True)
class Core:
    settings: Settings
    db: Database
    clock: Clock
    dispatcher: Dispatcher
    renderer: Renderer
    inbox: Inbox
    leadership: Leadership
    errors: ErrorPolicy
    # Tell the delivery workers of this process that a channel queued a message (bot/delivery/
    # fanouts.py `one_message`); workers elsewhere find it at their next look (seconds).
    deliveries_queued: Callable[[], None] = field(default=lambda: None)
    # Tell a session's organisers something, once per key, through the channels they use (bot/
    # delivery/fanouts.py `notify_organisers`): (transaction, session id, kind, key, payload).
    notify_organisers: Callable[[OrmSession, int, str, str, dict[str, Any]], bool] = field(
        default=lambda s, session_id, kind, key, payload: False
    )
    # The delivery planner, read-only for channels: what a session will send, and when (the
    # dashboard's previews and schedule ahead); None where no engine is built.
    planner: Planner | None = None

    @property
    def config(self) -> CoreConfig:
        return self.dispatcher.config

    def is_leader(self) -> bool:
        """Whether this process does the once-only background work (see bot/delivery/leader.py)."""
        return self.leadership.is_leader()
