"""The one HTTP server (Starlette on uvicorn) that every HTTP-facing channel mounts its routes on:
web pages, Slack's Request URL in HTTP mode, Graph change notifications."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.app import App

log = logging.getLogger(__name__)

# A channel's contribution to the server: its routes, built from the app.
RouteProvider = Callable[[App], Sequence[BaseRoute]]


def health_route(app: App) -> Route:
    def healthz(_request: Request) -> JSONResponse:
        database = "ok"
        try:
            with app.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # the report must answer even when the database does not
            log.warning("health check: database unreachable: %s", type(exc).__name__)
            database = "unreachable"
        channels = {name: state for name, state in app.channel_states().items()}
        healthy = database == "ok"
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "database": database, "channels": channels},
            status_code=200 if healthy else 503,
        )

    return Route("/healthz", healthz, methods=["GET"])


def create_web_app(app: App, providers: Sequence[RouteProvider] = ()) -> Starlette:
    routes: list[BaseRoute] = [health_route(app)]
    for provide in providers:
        routes.extend(provide(app))
    return Starlette(routes=routes)


class WebServer:
    """uvicorn in a background thread, stopped cleanly with the bot."""

    def __init__(self, web_app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(web_app, host=host, port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; raises WebServerError when the address cannot be bound."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                config = self.server.config
                raise WebServerError(f"the web server could not listen on {config.host}:{config.port}")
            time.sleep(0.005)

    @property
    def port(self) -> int | None:
        """The bound port (PORT=0 picks a free one), once started."""
        servers = getattr(self.server, "servers", None) or []
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return None

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class WebServerError(Exception):
    """The web server did not start (e.g. the port is taken)."""
