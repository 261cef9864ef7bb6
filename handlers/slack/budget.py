"""A client-side budget for a rate-limited Slack method: a token bucket of the method's tier, so the
bot does not make a call it knows Slack would refuse, and after a 429 makes none until Retry-After.

users.info and views.publish are Tier 4 ("100+ per minute", api.slack.com/methods/<method>), per
app and workspace. Each process keeps its own budget (the worker makes these calls); the burst is
kept modest so that a second process still fits, and a 429 from Slack empties the budget anyway.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock


@dataclass(frozen=True)
class Tier:
    per_minute: float
    burst: float


TIER_4 = Tier(per_minute=100, burst=10)


class Budget:
    """Thread-safe; time from the bot's clock."""

    def __init__(self, clock: Clock, tier: Tier = TIER_4) -> None:
        self.clock = clock
        self.rate = tier.per_minute / 60  # per second
        self.capacity = max(1.0, tier.burst)
        self._tokens, self._at = self.capacity, clock.now()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one call if the budget has it now; False (nothing spent) otherwise."""
        with self._lock:
            self._refill(self.clock.now())
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    def wait(self) -> float:
        """Seconds until the budget has a call again (0: now)."""
        with self._lock:
            self._refill(self.clock.now())
            return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def hold(self, seconds: float) -> None:
        """Slack answered 429 with Retry-After `seconds`: no call before then."""
        with self._lock:
            now = self.clock.now()
            self._refill(now)
            self._tokens = min(self._tokens, 1 - max(seconds, 0.0) * self.rate)  # one call then

    def _refill(self, now: datetime) -> None:
        if now > self._at:
            seconds = (now - self._at) / timedelta(seconds=1)
            self._tokens = min(self.capacity, self._tokens + seconds * self.rate)
            self._at = now
