"""`/metrics` in Prometheus' text format, read from the database at each scrape.

The state lives in SQL, not in one process (the worker process sends, the front serves this page,
several services may share one PostgreSQL), so each scrape counts it there: the outbox by channel,
kind and state, what waits throttled (429) and how late the oldest due message is, the delay from
due to sent of recent messages, the inbox's depth and age, how far the planner is behind, each
channel's health and what holds its sending. Beside it, what this service's processes counted as
they sent (bot/entry/send_metrics.py): attempts, 429s and the platforms' answer times.

Who may read it: with METRICS_TOKEN set, a request bearing it (`Authorization: Bearer …`); without
it, only a client on this machine that came through no proxy (no `X-Forwarded-For`).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Table, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.entry.composition import App
from bot.models import Delivery, DeliveryState, Fanout, InboundRequest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LOOPBACK = frozenset({"127.0.0.1", "::1"})
CHANNEL_STATES = ("on", "off", "degraded")
RECENT_SENDS = 1000  # the sends the delay quantiles are taken over, per channel
D = cast(Table, Delivery.__table__)
F = cast(Table, Fanout.__table__)
I = cast(Table, InboundRequest.__table__)  # noqa: E741 - the inbox table, as D and F


class BotCollector(Collector):
    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("baerekraft_database_up", "1 when the database answers")
        try:
            metrics = list(self._from_database(self.app.core.clock.now()))
        except SQLAlchemyError:
            up.add_metric([], 0)
            metrics = []
        else:
            up.add_metric([], 1)
        yield up
        yield from metrics
        yield from self._channels()

    def _from_database(self, now: datetime) -> Iterator[Metric]:
        with self.app.db.read() as s:
            by_state = s.execute(
                select(D.c.channel, F.c.kind, D.c.state, func.count())
                .join(F, F.c.id == D.c.fanout_id)
                .group_by(D.c.channel, F.c.kind, D.c.state)
            ).all()
            pending = (D.c.state == DeliveryState.PENDING.value,)
            throttled = s.execute(
                select(D.c.channel, func.count())
                .where(*pending, D.c.next_attempt_at > now, D.c.last_error.like("throttled%"))
                .group_by(D.c.channel)
            ).all()
            oldest_due = s.execute(
                select(D.c.channel, func.min(D.c.due_at))
                .where(*pending, D.c.due_at <= now)
                .group_by(D.c.channel)
            ).all()
            delays = {
                channel: self._recent_delays(s, channel)
                for (channel,) in s.execute(select(D.c.channel).distinct())
            }
            inbox = s.execute(
                select(I.c.state, func.count(), func.min(I.c.received_at))
                .where(I.c.state.in_(("new", "working")))
                .group_by(I.c.state)
            ).all()
        behind = self.app.delivery.planner.overdue_since(now)
        holds = self.app.delivery.paused()
        deliveries = GaugeMetricFamily(
            "baerekraft_deliveries",
            "Outbox rows by channel, kind and state",
            labels=["channel", "kind", "state"],
        )
        for channel, kind, state, count in by_state:
            deliveries.add_metric([channel, kind, state], count)
        yield deliveries
        waiting = GaugeMetricFamily(
            "baerekraft_deliveries_throttled", "Rows waiting out a 429 (Retry-After)", labels=["channel"]
        )
        for channel, count in throttled:
            waiting.add_metric([channel], count)
        yield waiting
        late = GaugeMetricFamily(
            "baerekraft_delivery_backlog_seconds",
            "How late the oldest due, unsent message is",
            labels=["channel"],
        )
        for channel, due in oldest_due:
            late.add_metric([channel], max(0.0, (now - _aware(due, now)).total_seconds()))
        yield late
        delay = GaugeMetricFamily(
            "baerekraft_send_delay_seconds",
            f"From due to sent, over the last {RECENT_SENDS} sends",
            labels=["channel", "quantile"],
        )
        for channel, values in delays.items():
            for quantile in (0.5, 0.99):
                if values:
                    delay.add_metric([channel, str(quantile)], _quantile(values, quantile))
        yield delay
        depth = GaugeMetricFamily(
            "baerekraft_inbox_requests", "Inbound requests not yet carried out", labels=["state"]
        )
        age = GaugeMetricFamily(
            "baerekraft_inbox_oldest_seconds", "Age of the oldest request not yet carried out"
        )
        oldest: datetime | None = None
        for state, count, received in inbox:
            depth.add_metric([state], count)
            if received is not None:
                received = _aware(received, now)
                oldest = received if oldest is None else min(oldest, received)
        age.add_metric([], (now - oldest).total_seconds() if oldest is not None else 0.0)
        yield depth
        yield age
        lag = GaugeMetricFamily(
            "baerekraft_planner_lag_seconds",
            "How long the oldest due message has waited to be planned (0: the planner keeps up)",
        )
        lag.add_metric([], (now - _aware(behind, now)).total_seconds() if behind is not None else 0.0)
        yield lag
        paused = GaugeMetricFamily(
            "baerekraft_sending_paused",
            "Holds on a channel's sending (the whole channel, or one target) until a probe gets through",
            labels=["channel", "scope"],
        )
        scopes = Counter((hold.channel, "channel" if hold.whole else "target") for hold in holds)
        for (channel, scope), count in sorted(scopes.items()):
            paused.add_metric([channel, scope], count)
        yield paused

    def _recent_delays(self, s: Session, channel: str) -> list[float]:
        rows = s.execute(
            select(D.c.due_at, D.c.sent_at)
            .where(D.c.channel == channel, D.c.state == DeliveryState.SENT.value, D.c.sent_at.is_not(None))
            .order_by(D.c.sent_at.desc())
            .limit(RECENT_SENDS)
        ).all()
        return sorted(max(0.0, (sent - due).total_seconds()) for due, sent in rows)

    def _channels(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "baerekraft_channel_up",
            "1 when a configured channel can do its work, 0 while degraded or paused",
            labels=["channel"],
        )
        states = GaugeMetricFamily(
            "baerekraft_channel_state",
            "1 for the channel's state (on, off, degraded)",
            labels=["channel", "state"],
        )
        for name, report in sorted(self.app.channel_states().items()):
            state = report.split(":", 1)[0]
            for each in CHANNEL_STATES:
                states.add_metric([name, each], 1 if each == state else 0)
            if state != "off":
                up.add_metric([name], 1 if state == "on" else 0)
        yield up
        yield states
        problems = GaugeMetricFamily(
            "baerekraft_recent_problems", "Places that failed in the last 15 minutes"
        )
        problems.add_metric([], len(self.app.health.recent()))
        yield problems


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def _aware(moment: datetime, like: datetime) -> datetime:
    """SQLite gives naive UTC times back."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=like.tzinfo)


def metrics_route(app: App) -> Route:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BotCollector(app))
    registry.register(app.send_metrics)  # what this service's processes counted as they sent
    token = app.settings.metrics_token

    def metrics(request: Request) -> Response:
        if not _allowed(request, token):
            return PlainTextResponse("not found\n", status_code=404)
        try:
            body = generate_latest(registry)
        except Exception as exc:  # a scrape must never be a 500; the report says where it failed
            app.errors.unexpected("metrics", exc)
            return PlainTextResponse("metrics unavailable\n", status_code=503)
        return Response(body, media_type=CONTENT_TYPE)

    return Route("/metrics", metrics, methods=["GET"])


def _allowed(request: Request, token: str | None) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        return secrets.compare_digest(given.encode(), f"Bearer {token}".encode())
    client = request.client.host if request.client else ""
    return client in LOOPBACK and "x-forwarded-for" not in request.headers
