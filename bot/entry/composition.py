"""The composition root: settings → database → core → channels → delivery engine, built in one place.

`App` is what the entry points (CLI, runtime, worker process) and the tests hold; channels never see
it: each gets the narrow `Core` (bot/core.py) and its own settings.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from bot.clock import Clock, SystemClock
from bot.db import Database, make_engine
from bot.entry.settings import BotSettings
from bot.migrate import at_head, upgrade
from bot.services.context import CoreConfig

# The core, the channels and the delivery engine are imported by `build`, which makes them: a
# command that needs only a `Store` loads none of them (nor Starlette, Jinja, Bolt, msal...).
if TYPE_CHECKING:
    from sqlalchemy.orm import Session as OrmSession

    from bot.channel import Channel
    from bot.core import Core
    from bot.delivery.channels import Sender
    from bot.delivery.engine import DeliveryEngine
    from bot.dispatch import Dispatcher
    from bot.entry.send_metrics import SendMetrics
    from bot.error_policy import ErrorPolicy, HealthBoard
    from bot.inbox import Inbox
    from bot.mail import Mailer
    from bot.rendering import Renderer
    from bot.services.numbers import OutsideReach

log = logging.getLogger(__name__)
C = TypeVar("C", bound="Channel")
# Channels reported on /healthz even when they are not configured ("off").
KNOWN_CHANNELS = ("slack", "microsoft365", "smtp")


@dataclass
class App:
    settings: BotSettings
    core: Core
    delivery: DeliveryEngine
    channels: tuple[Channel, ...]
    mailer: Mailer
    health: HealthBoard
    send_metrics: SendMetrics
    _senders: list[Sender] | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        return self.core.db

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def dispatcher(self) -> Dispatcher:
        return self.core.dispatcher

    @property
    def renderer(self) -> Renderer:
        return self.core.renderer

    @property
    def inbox(self) -> Inbox:
        return self.core.inbox

    @property
    def errors(self) -> ErrorPolicy:
        return self.core.errors

    @property
    def config(self) -> CoreConfig:
        return self.core.config

    def channel(self, kind: type[C]) -> C | None:
        """The running channel of this type, if configured."""
        return next((c for c in self.channels if isinstance(c, kind)), None)

    def reach_senders(self) -> list[Sender]:
        """The senders that decide whom the bot reaches: the engine's, or (a command that attached
        none) the channels' own, made once."""
        if self.delivery.senders:
            return list(self.delivery.senders)
        if self._senders is None:
            self._senders = [sender for channel in self.channels for sender in channel.senders()]
        return self._senders

    def outside_reach(self, s: OrmSession, session_id: int) -> list[OutsideReach]:
        """What the channels delivered for a session outside the outbox (its numbers count it)."""
        return [found for channel in self.channels for found in channel.session_reach(s, session_id)]

    def unreached(self) -> dict[str, int]:
        """Per series, how many subscribers no configured channel reaches (series with none left out):
        as stored while it holds, else counted and stored (bot/delivery/reach.py)."""
        from sqlalchemy.exc import SQLAlchemyError

        from bot.delivery.reach import reach_figures, store_figures, unreached_by_series

        with self.db.read() as s:
            figures = reach_figures(s, self.reach_senders())
        if not all(figure.stored for figure in figures):
            try:
                with self.db.transaction() as s:
                    store_figures(s, figures)
            except SQLAlchemyError as exc:  # counted all the same: the next asker counts again
                log.warning("cannot keep the count of unreached subscribers: %s", type(exc).__name__)
        return unreached_by_series(figures)

    def channel_states(self) -> dict[str, str]:
        """Each channel's state for operators (`/healthz`): its own report, or "off"; "degraded"
        with the reason while its sending is paused (a sending channel by its sender's name)."""
        from sqlalchemy.exc import SQLAlchemyError

        states = dict.fromkeys(KNOWN_CHANNELS, "off")
        states.update({channel.name: channel.health() for channel in self.channels})
        try:
            paused = self.delivery.paused()
        except SQLAlchemyError:  # the report must answer without a database (it says so itself)
            paused = []
        reasons: dict[str, list[str]] = {}
        for hold in paused:
            where = "" if hold.whole else f" to {hold.target}"
            why = f"sending paused{where}: {hold.reason} ({hold.problem})"
            reasons.setdefault(hold.channel, []).append(why)
        states.update({channel: "degraded: " + "; ".join(why) for channel, why in reasons.items()})
        return states

    def close(self) -> None:
        for channel in reversed(self.channels):
            with self.errors.guard(f"closing channel {channel.name}"):
                channel.stop()
        self.inbox.close()
        self.delivery.leadership.resign()
        self.db.engine.dispose()


@dataclass
class Store:
    """What a command that only reads and writes the database needs: settings, database, clock and
    the core's configuration, without the channels or the delivery engine (nor their imports)."""

    settings: BotSettings
    db: Database
    clock: Clock
    config: CoreConfig

    @property
    def renderer(self) -> Renderer:
        return make_renderer()

    def close(self) -> None:
        self.db.engine.dispose()


def build_store(settings: BotSettings, *, clock: Clock | None = None, migrate: bool = True) -> Store:
    """The database (its schema brought up to date first when `migrate`), clock and configuration."""
    engine = make_engine(settings.database_url)
    if migrate and not at_head(engine):
        upgrade(settings.database_url)
    config = CoreConfig(
        timezone=settings.timezone,
        language=settings.language,
        secret_key=settings.secret_key,
        public_base_url=settings.public_base_url,
        colleague_invites_per_day=settings.colleague_invites_per_day,
        colleague_invite_quiet_days=settings.colleague_invite_quiet_days,
    )
    return Store(settings, Database(engine), clock or SystemClock(), config)


def build(
    settings: BotSettings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    console: TextIO | None = None,
    mailer: Mailer | None = None,
) -> App:
    """Build the bot; `migrate` brings the database schema up to date first. `console`: the terminal
    of a console session; `mailer`: a mail transport instead of the channels' (tests)."""
    from bot.core import Core
    from bot.delivery.engine import DeliveryEngine
    from bot.delivery.leader import Leadership
    from bot.delivery.reach import unreached
    from bot.dispatch import Dispatcher
    from bot.entry.channels import build_channels, channel_erasers
    from bot.entry.send_metrics import SendMetrics
    from bot.error_policy import ErrorPolicy, HealthBoard
    from bot.inbox import Inbox
    from bot.inbox_spool import Spool

    store = build_store(settings, clock=clock, migrate=migrate)
    db, clock, config = store.db, store.clock, store.config
    health = HealthBoard(clock, db)
    errors = ErrorPolicy(health)
    leadership = Leadership(db.engine)
    lease = timedelta(seconds=settings.limits.delivery_lease_seconds)
    send_metrics = SendMetrics()
    delivery = DeliveryEngine(db, config, clock, errors, leadership, lease, send_metrics)
    core = Core(
        settings=settings,
        db=db,
        clock=clock,
        dispatcher=Dispatcher(db, clock, config, errors, channel_erasers()),
        renderer=make_renderer(),
        inbox=Inbox(db, clock, errors, spool=Spool(Path(settings.inbox_spool_dir))),
        leadership=leadership,
        errors=errors,
        deliveries_queued=delivery.wake,
        notify_organisers=lambda s, session_id, kind, key, payload: _tell_organisers(
            app, s, session_id, kind, key, payload
        ),
        planner=delivery.planner,
    )
    channels, transport = build_channels(core, settings, console=console, mailer=mailer)
    app = App(settings, core, delivery, tuple(channels), transport, health, send_metrics)
    core.dispatcher.unreached = lambda s, series: len(unreached(s, series, app.reach_senders()))
    core.dispatcher.colleague_mail = next(
        (hook for channel in channels if (hook := channel.colleague_mailer()) is not None), None
    )
    core.dispatcher.outside_reach = app.outside_reach
    return app


def _tell_organisers(
    app: App, s: OrmSession, session_id: int, kind: str, key: str, payload: dict[str, Any]
) -> bool:
    """A message to the organisers of a session's series (for a channel: `Core.notify_organisers`)."""
    from bot.delivery.fanouts import notify_organisers
    from bot.models import Session as SessionRow

    session = s.get(SessionRow, session_id)
    if session is None:
        return False
    now = app.core.clock.now()
    told = notify_organisers(s, app.reach_senders(), session.series, session_id, kind, key, payload, now)
    if told:
        app.core.deliveries_queued()
    return told


@functools.cache
def make_renderer() -> Renderer:
    """The renderer with the core's templates and every channel's: one per process, as it holds
    nothing but the compiled templates (compiling them again for every bot built costs time)."""
    from bot.entry.channels import channel_templates
    from bot.rendering import Renderer

    return Renderer(channel_templates=channel_templates())


def log_channel_state(settings: BotSettings) -> None:
    """One line per channel that is switched off, and why; nothing more."""
    for line in settings.disabled_channels:
        log.info(line)
    if settings.secret_key_is_temporary:
        log.warning("SECRET_KEY not set: using a temporary key; links in sent mails stop working on restart")
