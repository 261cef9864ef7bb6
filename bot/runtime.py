"""The running bot: core + web server + discovered channels + schedule, started and stopped together.

With `bot/app.py` (the core) this is the composition root of a `baerekraft-bot run` process.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

import jobs
from bot.app import App
from bot.web import WebServer, create_web_app
from handlers import Stoppable, channel_modules

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, app: App, *, serve_web: bool = True) -> None:
        self.app = app
        self.serve_web = serve_web
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.web: WebServer | None = None
        self.running: list[Stoppable] = []

    def start(self) -> None:
        modules = channel_modules()
        if self.serve_web:
            providers = [m.routes for m in modules if hasattr(m, "routes")]
            web_app = create_web_app(self.app, providers)
            settings = self.app.settings
            self.web = WebServer(web_app, settings.host, settings.port)
            self.web.start()
            log.info("web server on http://%s:%s", settings.host, settings.port)
        attach_senders(self.app, modules)
        for module in modules:
            if hasattr(module, "start"):
                started: Any = module.start(self.app)
                if started is not None:
                    self.running.append(started)
        self.app.delivery.start()
        jobs.register(self.scheduler, self.app)
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.app.delivery.stop()
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
                app.delivery.add_sender(sender)
