"""Request signing on the bot's clock.

Slack signs every request: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the app's
signing secret, and a request whose timestamp is more than five minutes off is refused. The Request
URL's route checks it once, on the raw body, before anything reads the request
(`handlers/slack/bolt_app.py:events_route`); Socket Mode requests are not signed.

`SlackSignature` computes what slack_sdk's `SignatureVerifier` computes and compares it in constant
time as it does, on the raw bytes as they arrived: the key is set up once (slack_sdk keys a new HMAC
and decodes and re-encodes the body for every request), and a signature that is not ASCII is refused
(slack_sdk's comparison raises on it: a 500).
"""

from __future__ import annotations

import hashlib
import hmac

from bot.clock import Clock

WINDOW_SECONDS = 5 * 60


class SlackSignature:
    def __init__(self, signing_secret: str, clock: Clock) -> None:
        self._keyed = hmac.new(signing_secret.encode(), digestmod=hashlib.sha256)
        self.clock = clock

    def expected(self, timestamp: str, body: bytes) -> str:
        """The signature Slack sends with `body` signed at `timestamp`."""
        mac = self._keyed.copy()
        mac.update(b"v0:%s:" % timestamp.encode("ascii"))
        mac.update(body)
        return "v0=" + mac.hexdigest()

    def is_valid(self, body: bytes, timestamp: str, signature: str) -> bool:
        """Whether `signature` is Slack's for `body` and `timestamp` (whole seconds since the epoch,
        as digits), signed at most five minutes from now on the bot's clock either way."""
        if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
            return False
        if abs(self.clock.now().timestamp() - int(timestamp)) > WINDOW_SECONDS:
            return False
        return hmac.compare_digest(self.expected(timestamp, body), signature)


def clocked_verifier(signing_secret: str, clock: Clock) -> SlackSignature:
    """The Request URL's check, measuring the five-minute window on the bot's clock."""
    return SlackSignature(signing_secret, clock)
