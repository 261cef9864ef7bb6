"""The Microsoft 365 channel (Teams, Exchange via Graph): `POST /graph/notifications` on the shared
web server, the mail and Teams senders, and the background work (calendar, reading Teams). Only
wiring: everything lives in `bot.graph`."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence

from starlette.routing import BaseRoute

from bot.app import App
from bot.delivery.channels import Sender
from bot.graph.runtime import GraphRuntime
from bot.graph.service import Microsoft365
from bot.graph.status import channel_state

log = logging.getLogger(__name__)

# One Microsoft365 per app: the route, the senders and the background work share it.
_BUILT: dict[int, tuple[weakref.ref[App], Microsoft365]] = {}


def graph_of(app: App) -> Microsoft365 | None:
    settings = app.settings.microsoft
    if settings is None:
        return None
    built = _BUILT.get(id(app))
    if built is None or built[0]() is not app:
        built = (weakref.ref(app), Microsoft365(app, settings))
        _BUILT[id(app)] = built
    return built[1]


def routes(app: App) -> Sequence[BaseRoute]:
    graph = graph_of(app)
    return [graph.inbox.route()] if graph else []


def senders(app: App) -> Sequence[Sender]:
    graph = graph_of(app)
    return graph.senders() if graph else []


def start(app: App) -> GraphRuntime | None:
    graph = graph_of(app)
    if graph is None:
        return None
    app.mailer = graph.mailer()
    app.channel_checks["microsoft"] = lambda: channel_state(graph)
    runtime = GraphRuntime(graph, app.delivery.leadership.is_leader)
    graph.subscriptions.poll_now = lambda: runtime.run_now("teams.poll")
    log.info("Microsoft 365: on (mail and meetings from %s)", graph.settings.organiser)
    return runtime.start()
