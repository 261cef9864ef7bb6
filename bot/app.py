"""The composition root: settings → database → core → channels → schedule, built in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import Clock, SystemClock
from bot.db import Database, make_engine
from bot.delivery.engine import DeliveryEngine
from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.mail import ConsoleMailer, Mailer
from bot.migrate import upgrade
from bot.rendering import Renderer
from bot.services.context import CoreConfig
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    db: Database
    clock: Clock
    dispatcher: Dispatcher
    renderer: Renderer
    delivery: DeliveryEngine
    inbox: Inbox
    mailer: Mailer = field(default_factory=ConsoleMailer)
    # A channel may report its own state ("on", "degraded"), e.g. Microsoft 365 when its login expired.
    channel_checks: dict[str, Callable[[], str]] = field(default_factory=dict)

    @property
    def config(self) -> CoreConfig:
        return self.dispatcher.config

    def channel_states(self) -> dict[str, str]:
        """Each channel's state for operators (`/healthz`): on, or off and why."""
        states = {"console": "on"}
        settings = self.settings
        states["slack"] = "on" if settings.slack else "off"
        states["microsoft"] = "on" if settings.microsoft else "off"
        states.update({name: check() for name, check in self.channel_checks.items()})
        return states

    def close(self) -> None:
        self.inbox.close()
        self.delivery.leadership.resign()
        self.db.engine.dispose()


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    """Build the application; `migrate` brings the database schema up to date first."""
    if migrate:
        upgrade(settings.database_url)
    db = Database(make_engine(settings.database_url))
    clock = clock or SystemClock()
    config = CoreConfig(
        timezone=settings.timezone, language=settings.language, secret_key=settings.secret_key
    )
    lease = timedelta(seconds=settings.limits.delivery_lease_seconds)
    delivery = DeliveryEngine(db, config, clock, lease)
    return App(settings, db, clock, Dispatcher(db, clock, config), Renderer(), delivery, Inbox(db, clock))


def log_channel_state(settings: Settings) -> None:
    """One line per channel that is switched off, and why; nothing more."""
    for line in settings.disabled_channels:
        log.info(line)
    if settings.secret_key_is_temporary:
        log.warning("SECRET_KEY not set: using a temporary key; links in sent mails stop working on restart")
