"""A token bucket, as the platforms' rate limits behave: `rate` tokens a second, at most `burst`
saved up. The fakes use it to answer 429 with a Retry-After; not thread-safe by itself."""

from __future__ import annotations

import math
import time


class Bucket:
    def __init__(self, rate: float, burst: float, now: float | None = None) -> None:
        self.rate, self.capacity = rate, max(1.0, burst)
        self.tokens, self.at = self.capacity, time.monotonic() if now is None else now

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: one is there now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


def retry_after(seconds: float) -> int:
    """Retry-After for a wait of `seconds`: whole seconds, at least 1 (HTTP allows nothing finer)."""
    return max(1, math.ceil(seconds))
