"""The running bot: core + web server + discovered channels + schedule + the workers, started and
stopped together.

With `bot/app.py` (the core) this is the composition root of a `baerekraft-bot run` process. A
runtime plays one of three roles:

- `all`: everything in this process (console mode, `WORKER_PROCESS=false`, tests);
- `front`: the web server, the channels' listeners and background work, and the schedule (the
  planner included); the work goes to the worker process, nudged through `nudges`;
- `worker`: the inbox worker (requests after their ack) and the delivery engine's senders.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import ModuleType
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler

import jobs
from bot.app import App
from bot.inbox import InboxWorker, Work
from bot.web import WebServer, create_web_app
from handlers import Stoppable, channel_modules

log = logging.getLogger(__name__)


class Role(StrEnum):
    ALL = "all"
    FRONT = "front"
    WORKER = "worker"


class Nudges(Protocol):
    """How the front tells the worker process there is work (see bot/worker_process.py)."""

    def inbox(self) -> None: ...
    def deliveries(self) -> None: ...


class Runtime:
    def __init__(
        self, app: App, *, serve_web: bool = True, role: Role = Role.ALL, nudges: Nudges | None = None
    ) -> None:
        if role is Role.FRONT and nudges is None:
            raise ValueError("a front runtime needs the worker's nudges")
        self.app, self.serve_web, self.role, self.nudges = app, serve_web, role, nudges
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.web: WebServer | None = None
        self.inbox_worker: InboxWorker | None = None
        self.running: list[Stoppable] = []

    @property
    def fronts(self) -> bool:
        return self.role in (Role.ALL, Role.FRONT)

    @property
    def works(self) -> bool:
        return self.role in (Role.ALL, Role.WORKER)

    def start(self) -> None:
        app, modules = self.app, channel_modules()
        # Both sides need the senders: the front's planner asks them who to reach, the worker sends.
        attach_senders(app, modules)
        if self.works:
            self.inbox_worker = InboxWorker(app.inbox, work_of(app, modules)).start()
            app.inbox.on_arrival(self.inbox_worker.wake)
            app.delivery.start()
        if self.nudges is not None:
            app.inbox.on_arrival(self.nudges.inbox)
            app.delivery.on_wake(self.nudges.deliveries)
        if not self.fronts:
            return
        if self.serve_web:
            providers = [m.routes for m in modules if hasattr(m, "routes")]
            web_app = create_web_app(app, providers)
            settings = app.settings
            self.web = WebServer(web_app, settings.host, settings.port)
            self.web.start()
            log.info("web server on http://%s:%s", settings.host, self.web.port or settings.port)
        for module in modules:
            if hasattr(module, "start"):
                started: Any = module.start(app)
                if started is not None:
                    self.running.append(started)
        jobs.register(self.scheduler, app)
        self.scheduler.start()

    def stop(self) -> None:
        if self.fronts:
            self.scheduler.shutdown(wait=False)
        if self.works:
            self.app.delivery.stop()
            if self.inbox_worker is not None:
                self.inbox_worker.stop()
        for item in reversed(self.running):
            try:
                item.stop()
            except Exception:
                log.exception("stopping %r failed", item)
        if self.web is not None:
            self.web.stop()


def attach_senders(app: App, modules: Sequence[ModuleType] | None = None) -> None:
    """Give the delivery engine every configured channel's sender."""
    for module in channel_modules() if modules is None else modules:
        if hasattr(module, "senders"):
            for sender in module.senders(app):
                app.delivery.add_sender(sender, in_flight=sender.in_flight)


def work_of(app: App, modules: Sequence[ModuleType] | None = None) -> Mapping[str, Work]:
    """What the inbox worker does, from every channel that records requests."""
    table: dict[str, Work] = {}
    for module in channel_modules() if modules is None else modules:
        if hasattr(module, "work"):
            table.update(module.work(app))
    return table
