"""A channel for engine tests: records every send, can pace like a mailbox and fail like a network.

It reaches everyone: one announcement post (target "post") plus one message per recipient
(target "person:<id>"), in the recipient's language.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.delivery.channels import (
    Headcount,
    OutgoingMessage,
    Pace,
    Recipient,
    RetryLater,
    Target,
    TransientError,
)
from bot.views import SeriesView


@dataclass
class Sent:
    at: datetime
    key: str
    kind: str
    target: str
    language: str
    title: str | None


@dataclass
class RecordingSender:
    clock: Clock
    channel: str = "fake"
    interval: timedelta | None = None  # pace of the one shared key (like a mailbox)
    fault_rate: float = 0.0  # share of calls that fail (429, 5xx, or a timeout after sending)
    seed: int = 7
    posts: bool = True
    in_flight: int = 1
    sent: list[Sent] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        people = [Target(f"person:{r.person_id}", r.language, r.person_id) for r in recipients]
        return ([Target("post", series.language)] if self.posts else []) + people

    def pacing(self, target: str) -> list[Pace]:
        return [Pace(f"{self.channel}:box", self.interval)] if self.interval else []

    def send(self, message: OutgoingMessage) -> str | None:
        with self._lock:
            roll = self._random.random()
            if roll < self.fault_rate / 3:
                self.faults["429"] += 1
                raise RetryLater(1.0)
            if roll < 2 * self.fault_rate / 3:
                self.faults["5xx"] += 1
                raise TransientError("HTTP 503")
            self._record(message)
            if roll < self.fault_rate:
                self.faults["timeout"] += 1  # sent, but the answer never came
                raise TransientError("timed out", in_doubt=True)
            return f"ref-{message.delivery_id}"

    def find_sent(self, message: OutgoingMessage) -> str | None:
        with self._lock:
            found = any(x.key == message.key for x in self.sent)
        return f"ref-{message.delivery_id}" if found else None

    def _record(self, message: OutgoingMessage) -> None:
        self.sent.append(
            Sent(
                self.clock.now(),
                message.key,
                message.kind,
                message.target,
                message.language,
                message.session.title if message.session else None,
            )
        )

    def to(self, target: str) -> list[Sent]:
        return [x for x in self.sent if x.target == target]

    def duplicates(self) -> list[str]:
        return [key for key, n in Counter(x.key for x in self.sent).items() if n > 1]


class CountingRecordingSender(RecordingSender):
    """A `RecordingSender` that tells the lead from a headcount (a `CountingSender`)."""

    def paced_sends(self, kind: str, series: SeriesView, headcount: Headcount) -> list[tuple[Pace, int]]:
        if not self.interval:
            return []
        return [
            (
                Pace(f"{self.channel}:box", self.interval),
                headcount.people(lambda p: True) + (1 if self.posts else 0),
            )
        ]
