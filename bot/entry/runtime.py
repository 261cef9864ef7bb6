"""The running bot: core + web server + channels + schedule + the workers, started and stopped
together.

With `bot/entry/composition.py` (the core and its channels) this is the composition root of a
`baerekraft-bot run` process. A runtime plays one of three roles:

- `all`: everything in this process (console mode, `WORKER_PROCESS=false`, tests);
- `front`: the web server, the channels' routes and background work, and the schedule (the
  planner included); the work goes to the worker process, nudged through `nudges`;
- `worker`: the inbox worker (requests after their ack) and the delivery engine's senders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

import jobs
from bot.channel import Channel, checked
from bot.entry.composition import App
from bot.entry.server import WebServer, create_web_app
from bot.inbox import Apology, Work
from bot.inbox_worker import InboxWorker

log = logging.getLogger(__name__)


class Role(StrEnum):
    ALL = "all"
    FRONT = "front"
    WORKER = "worker"


class Nudges(Protocol):
    """How the front tells the worker process there is work (see bot/entry/worker_process.py)."""

    def inbox(self) -> None: ...
    def deliveries(self) -> None: ...
    def caps(self) -> None: ...


class Runtime:
    def __init__(
        self,
        app: App,
        *,
        serve_web: bool = True,
        role: Role = Role.ALL,
        nudges: Nudges | None = None,
        start_commands: Callable[[Callable[[], object]], object] = lambda start: start(),
    ) -> None:
        """`start_commands(start)` starts the inbox worker's threads (the worker process's starts
        them at a lower CPU priority: see bot/entry/worker_process.py, `started_idle`)."""
        if role is Role.FRONT and nudges is None:
            raise ValueError("a front runtime needs the worker's nudges")
        self.app, self.serve_web, self.role, self.nudges = app, serve_web, role, nudges
        self.start_commands = start_commands
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.web: WebServer | None = None
        self.inbox_worker: InboxWorker | None = None
        self.started: list[Channel] = []

    @property
    def fronts(self) -> bool:
        return self.role in (Role.ALL, Role.FRONT)

    @property
    def works(self) -> bool:
        return self.role in (Role.ALL, Role.WORKER)

    def start(self) -> None:
        app = self.app
        channels = checked(app.channels)
        # Both sides need the senders: the front's planner asks them who to reach, the worker sends.
        attach_senders(app)
        if self.works:
            self.inbox_worker = InboxWorker(app.inbox, work_of(channels), apologise=apologies(channels))
            self.start_commands(self.inbox_worker.start)
            app.inbox.on_arrival(self.inbox_worker.wake)
            app.delivery.start()
        if self.nudges is not None:
            app.inbox.on_arrival(self.nudges.inbox)
            app.delivery.on_wake(self.nudges.deliveries)
            app.delivery.weigh_caps_elsewhere(self.nudges.caps)
        if self.fronts:
            self._start_front(channels)
        if self.role is Role.ALL:
            log_unreached(app)  # a worker process logs them itself: see `log_unreached`

    def _start_front(self, channels: Sequence[Channel]) -> None:
        app = self.app
        if self.serve_web:
            web_app = create_web_app(app, [route for channel in channels for route in channel.routes()])
            settings = app.settings
            self.web = WebServer(web_app, settings.host, settings.port)
            self.web.start()
            log.info("web server on http://%s:%s", settings.host, self.web.port or settings.port)
        for channel in channels:
            channel.start()
            self.started.append(channel)
        jobs.register(
            self.scheduler,
            app,
            [job for channel in channels for job in channel.jobs()],
            [source for channel in channels if (source := channel.bounce_source()) is not None],
        )
        self.scheduler.start()

    def stop(self) -> None:
        if self.fronts:
            self.scheduler.shutdown(wait=False)
        if self.works:
            self.app.delivery.stop()
            if self.inbox_worker is not None:
                self.inbox_worker.stop()
        for channel in reversed(self.started):
            with self.app.errors.guard(f"stopping channel {channel.name}"):
                channel.stop()
        self.started.clear()
        if self.web is not None:
            self.web.stop()
        if self.role is Role.FRONT:  # no request can come any more: the worker gets the last ones
            self.app.inbox.finish_handover()


def log_unreached(app: App) -> None:
    """Once at start: subscribers that no configured channel reaches (they would get nothing). With a
    worker process, the worker does it, not the front: reading every subscriber (a sixth of a second
    of CPU with 12,000) would hold the interpreter that acks requests. The counts are kept in the
    database (`reach_count`), and the front's /healthz answers from them while they hold."""
    try:
        counts = app.unreached()
    except SQLAlchemyError as exc:
        log.warning("cannot count the subscribers no channel reaches: %s", type(exc).__name__)
        return
    for slug, count in counts.items():
        log.warning(
            "series %s: %d subscriber%s no configured channel reaches (set up mail: SMTP_HOST or "
            "Microsoft 365); they get nothing until one does",
            slug,
            count,
            "" if count == 1 else "s",
        )


def attach_senders(app: App) -> None:
    """Give the delivery engine every configured channel's sender."""
    for channel in app.channels:
        for sender in channel.senders():
            app.delivery.add_sender(sender, in_flight=sender.in_flight)


def work_of(channels: Sequence[Channel]) -> Mapping[str, Work]:
    """What the inbox worker does, by `<channel>.<kind>`, from every channel."""
    return {f"{channel.name}.{kind}": work for channel in channels for kind, work in channel.work().items()}


def apologies(channels: Sequence[Channel]) -> Apology:
    """Who tells the user when one of their requests failed for good: the request's channel."""
    by_name = {channel.name: channel for channel in channels}

    def apologise(channel: str, kind: str, payload: dict[str, Any]) -> None:
        if channel in by_name:
            by_name[channel].apologise(kind, payload)

    return apologise
