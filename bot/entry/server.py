"""The one HTTP server (Starlette on uvicorn) that every HTTP-facing channel mounts its routes on
(web pages, Slack's Request URL in HTTP mode, Graph change notifications), and `/healthz`."""

from __future__ import annotations

import hmac
import logging
import sys
import threading
import time
from collections.abc import Sequence

import uvicorn
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.entry.body_limit import BodyLimit
from bot.entry.composition import App
from bot.entry.metrics import metrics_route
from bot.entry.security_headers import SecurityHeaders, served_over_https

log = logging.getLogger(__name__)
# Python runs one thread at a time: a thread that wants to run again (the web server's, after each
# socket write) waits for the running one (the inbox writer, the schedule) to let go, up to the
# switch interval, 5 ms by default. At 0.5 ms that wait no longer shows in an acknowledgement's tail.
SWITCH_INTERVAL_SECONDS = 0.0005


def health_route(app: App) -> Route:
    """`GET /healthz`: for anyone, whether the bot is alive (`{"status": "ok"}`, or 503 when the
    database is unreachable); for an operator with `Authorization: Bearer <HEALTH_TOKEN>`, the detailed
    report: each channel's state and what failed lately."""

    def healthz(request: Request) -> JSONResponse:
        database = _database_state(app)
        # 503 only when nothing works without a database; a failing job or channel is reported, and
        # a service manager must not restart the bot for it.
        status_code = 200 if database == "ok" else 503
        if not _is_operator(request, app.settings.health_token):
            return JSONResponse({"status": "ok" if database == "ok" else "unavailable"}, status_code)
        return JSONResponse(_report(app, database), status_code)

    return Route("/healthz", healthz, methods=["GET"])


def _database_state(app: App) -> str:
    try:
        with app.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:  # the report must answer even when the database does not
        log.warning("health check: database unreachable: %s", type(exc).__name__)
        return "unreachable"
    return "ok"


def _is_operator(request: Request, token: str | None) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return (
        token is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    )


def _report(app: App, database: str) -> dict[str, object]:
    channels = app.channel_states()
    problems = {
        place: {
            "failures": trouble.count,
            "last": trouble.last_at.isoformat(),
            "error": trouble.last_error,
        }
        for place, trouble in app.health.recent().items()
        if trouble.last_at is not None
    }
    unreached = _unreached(app) if database == "ok" else {}
    # "on" works, "off" is not configured; anything else ("degraded", "reconnecting (...)") does not.
    # Subscribers no channel reaches make it degraded too: they would get nothing, silently.
    degraded = (
        database != "ok"
        or bool(problems)
        or bool(unreached)
        or any(state not in ("on", "off") for state in channels.values())
    )
    body: dict[str, object] = {
        "status": "degraded" if degraded else "ok",
        "database": database,
        "channels": channels,
    }
    if problems:
        body["problems"] = problems
    if unreached:
        body["unreached_subscribers"] = unreached
    if paused := _paused(app):
        body["paused"] = paused
    return body


def _unreached(app: App) -> dict[str, int]:
    """Per series, subscribers no configured channel reaches (as the worker counted them, while that
    holds); empty if the count itself fails."""
    try:
        return app.unreached()
    except SQLAlchemyError as exc:
        log.warning("health check: cannot count unreached subscribers: %s", type(exc).__name__)
        return {}


def _paused(app: App) -> list[dict[str, str | None]]:
    """The channels (or targets) whose sending waits, since when, and when it is tried again."""
    try:
        holds = app.delivery.paused()
    except SQLAlchemyError:  # reported as the database's trouble above
        return []
    return [
        {
            "channel": hold.channel,
            "target": None if hold.whole else hold.target,
            "problem": hold.problem,
            "reason": hold.reason,
            "since": hold.began_at.isoformat(),
            "next_try": hold.probe_at.isoformat(),
        }
        for hold in holds
    ]


def create_web_app(app: App, routes: Sequence[BaseRoute] = ()) -> Starlette:
    """`/healthz`, `/metrics` and the channels' routes. Every answer carries the security headers;
    each request's body is counted as it arrives (413 past 1 MB, before any route runs)."""
    https = served_over_https(app.settings.public_base_url)
    return Starlette(
        routes=[health_route(app), metrics_route(app), *routes],
        middleware=[Middleware(SecurityHeaders, https=https), Middleware(BodyLimit)],
    )


class WebServer:
    """uvicorn in a background thread, stopped cleanly with the bot."""

    def __init__(self, web_app: Starlette, host: str, port: int) -> None:
        # log_config=None: uvicorn's lines go through the bot's handlers (masked), not handlers of its own.
        config = uvicorn.Config(
            web_app,
            host=host,
            port=port,
            http="httptools",
            log_level="warning",
            lifespan="off",
            log_config=None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; raises WebServerError when the address cannot be bound."""
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
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
