"""Slack's per-method rate limits ("tiers"), per app and workspace, as the fake enforces them.

Slack's documentation gives each method a tier: Tier 4 is "100+ per minute" with bursts allowed
(users.info and views.publish are Tier 4, api.slack.com/methods/<method>). The fake holds the bot to
100 a minute with a burst of 20: no more lenient than Slack. Over it, HTTP 429 with an integer
Retry-After, as Slack answers. `scale` speeds the limits up with the rest of a scaled bench.
chat.postMessage has its own rules (per channel; see `slack_methods.post_message`, bench/fakes.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tests.fakes.bucket import Bucket, retry_after


@dataclass(frozen=True)
class Tier:
    per_minute: float
    burst: float


TIER_4 = Tier(per_minute=100, burst=20)
METHOD_TIERS: Mapping[str, Tier] = {"users.info": TIER_4, "views.publish": TIER_4}


class MethodLimits:
    """One bucket per limited method. Not thread-safe by itself (the fake calls it under its lock)."""

    def __init__(self, tiers: Mapping[str, Tier] = METHOD_TIERS, scale: float = 1.0) -> None:
        self.tiers, self.scale = dict(tiers), scale
        self._buckets: dict[str, Bucket] = {}

    def over(self, method: str, now: float) -> int | None:
        """Retry-After (seconds) when this call of `method` at `now` is over its limit, else None
        (and the call counts against the limit)."""
        tier = self.tiers.get(method)
        if tier is None:
            return None
        bucket = self._buckets.get(method)
        if bucket is None:
            rate = tier.per_minute / 60 * self.scale
            bucket = self._buckets[method] = Bucket(rate, tier.burst, now)
        wait = bucket.wait(now)
        if wait > 0.0:
            return retry_after(wait)
        bucket.take()
        return None
