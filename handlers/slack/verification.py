"""Request signing on the bot's clock.

Slack signs every request (`v0=` HMAC-SHA256 of `v0:<timestamp>:<body>`); slack_sdk's
`SignatureVerifier` checks it in constant time and refuses a timestamp more than five minutes off.
The Request URL's route checks it once, on the raw body, before Bolt sees the request
(`handlers/slack/bolt_app.py:events_route`); Socket Mode requests are not signed.
"""

from __future__ import annotations

from slack_sdk.signature import Clock as SignatureClock
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock


class _BotClock(SignatureClock):
    """The bot's clock as slack_sdk wants it: seconds since the epoch."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()


def clocked_verifier(signing_secret: str, clock: Clock) -> SignatureVerifier:
    """slack_sdk's verifier, measuring the five-minute window on the bot's clock."""
    return SignatureVerifier(signing_secret, clock=_BotClock(clock))
