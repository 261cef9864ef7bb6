"""Counters and a histogram of what happens in a process as it sends: each attempt's outcome, the
platform's answer time, and its 429s, per channel (bot/delivery/events.py reports them).

A service sends from its worker process but serves `/metrics` from its front, so there the two share
them through files: `share_between_processes` (before the first metric is made, i.e. before `build`)
puts every value in a file per process in a private folder (prometheus_client's multiprocess mode),
and the front's page adds the files up. Without it (console mode, `WORKER_PROCESS=false`) the
values live in the process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.delivery import events

# From a quick Slack post to a slow Graph mail with an .ics; the histogram's upper bounds, seconds.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_shared: Path | None = None


def share_between_processes(folder: Path) -> None:
    """Keep this process's metrics (and those of processes forked from it) in files in `folder`,
    which must be empty and this service's own."""
    global _shared
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _shared = folder


class SendMetrics(Collector):
    """The send metrics of this service (bot.delivery.events.SendEvents), and their collector."""

    def __init__(self) -> None:
        self.shared = _shared
        self.registry = CollectorRegistry(auto_describe=False)
        self.attempts = Counter(
            "baerekraft_send_attempts",
            "Send attempts by channel and outcome (sent, throttled, transient, failed, ...)",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "baerekraft_rate_limited",
            "Sends the platform answered with 429 (or 503) and a Retry-After",
            ["channel"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "baerekraft_send_seconds",
            "How long the platform took over one send attempt",
            ["channel"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def attempted(self, channel: str, outcome: str, seconds: float) -> None:
        self.attempts.labels(channel, outcome).inc()
        if outcome == events.THROTTLED:
            self.rate_limited.labels(channel).inc()
        self.seconds.labels(channel).observe(seconds)

    def collect(self) -> Iterator[Metric]:
        if self.shared is None:
            yield from self.registry.collect()
        else:
            files = MultiProcessCollector(None, str(self.shared))  # type: ignore[no-untyped-call]
            yield from files.collect()  # type: ignore[no-untyped-call]
