"""Request signing: Bolt's verification middleware, on the bot's clock and with a log line free of data.

Slack signs every request (`v0=` HMAC-SHA256 of `v0:<timestamp>:<body>`); slack_sdk's
`SignatureVerifier` checks it in constant time and refuses a timestamp more than five minutes off.
Bolt answers 401 to a bad or stale request before any listener runs, so nothing changes.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.middleware.request_verification import RequestVerification
from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock

log = logging.getLogger(__name__)


class _BotClock(SignatureClock):
    """The bot's clock as slack_sdk wants it: seconds since the epoch."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()


def clocked_verifier(signing_secret: str, clock: Clock) -> SignatureVerifier:
    """slack_sdk's verifier, measuring the five-minute window on the bot's clock."""
    return SignatureVerifier(signing_secret, clock=_BotClock(clock))


class SignedRequestsOnly(RequestVerification):
    """Bolt's `RequestVerification`, with the window measured on the bot's clock."""

    def __init__(self, signing_secret: str, clock: Clock) -> None:
        super().__init__(signing_secret, base_logger=log)
        self._clocked = clocked_verifier(signing_secret, clock)

    @property
    def verifier(self) -> SignatureVerifier:
        return self._clocked

    def _debug_log_error(self, signature: Any, timestamp: Any, body: Any) -> None:
        # Bolt's own line includes the body, which holds user ids and text: keep those out of logs.
        log.warning("Slack request refused: bad or stale signature (timestamp %s)", timestamp)
