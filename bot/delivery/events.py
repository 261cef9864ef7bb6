"""What the delivery workers report as it happens: each attempt to send, how it ended and how long
the platform took. The entry points turn it into metrics (bot/entry/send_metrics.py); the core
knows only this protocol."""

from __future__ import annotations

from typing import Protocol

# How one attempt ended.
SENT = "sent"
THROTTLED = "throttled"  # the platform said: too many (429, or 503 with Retry-After)
TRANSIENT = "transient"  # 5xx, timeout: tried again later
FAILED = "failed"  # the platform refused this message for good
UNAVAILABLE = "unavailable"  # the channel cannot send now (token revoked, scope missing)
NOT_SENT = "not_sent"  # in doubt and found not to have gone out; not to be sent any more
ERROR = "error"  # the sender's own bug
OUTCOMES = (SENT, THROTTLED, TRANSIENT, FAILED, UNAVAILABLE, NOT_SENT, ERROR)


class SendEvents(Protocol):
    def attempted(self, channel: str, outcome: str, seconds: float) -> None:
        """One attempt on `channel` ended with `outcome` after `seconds` with the platform."""
        ...


class NoEvents:
    """Reports to nobody (an engine built without metrics)."""

    def attempted(self, channel: str, outcome: str, seconds: float) -> None:
        return None
