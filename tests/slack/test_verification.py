"""Request signing: slack_sdk's verifier against Slack's published example, and the bot's middleware
measuring the five-minute window on the bot's own clock."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import Clock, SignatureVerifier

from bot.clock import ManualClock
from handlers.slack.verification import SignedRequestsOnly
from tests.slack.fakes.slack_platform import signed_headers

# From Slack's "Verifying requests from Slack" guide (see ../shared/PLATFORM-FACTS.md).
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = 1531420618
BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


class At(Clock):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def now(self) -> float:
        return self.seconds


def test_the_verifier_accepts_slacks_published_example() -> None:
    verifier = SignatureVerifier(SECRET, clock=At(TIMESTAMP + 5))
    assert verifier.generate_signature(timestamp=str(TIMESTAMP), body=BODY) == SIGNATURE
    assert verifier.is_valid(BODY, str(TIMESTAMP), SIGNATURE)
    assert not verifier.is_valid(BODY.replace("roadrunner", "coyote"), str(TIMESTAMP), SIGNATURE)
    assert not verifier.is_valid(BODY, str(TIMESTAMP), SIGNATURE[:-1] + "0")


def test_the_tests_sign_requests_exactly_as_slack_does() -> None:
    headers = signed_headers(SECRET, BODY.encode(), TIMESTAMP, "application/x-www-form-urlencoded")
    assert headers["X-Slack-Signature"] == SIGNATURE
    assert headers["X-Slack-Request-Timestamp"] == str(TIMESTAMP)


def dispatch_through(middleware: SignedRequestsOnly, body: str, timestamp: int, signature: str) -> int:
    headers: dict[str, str | Sequence[str]] = {
        "x-slack-request-timestamp": str(timestamp),
        "x-slack-signature": signature,
    }
    request = BoltRequest(body=body, headers=headers)
    answer = middleware.process(
        req=request, resp=BoltResponse(status=404), next=lambda: BoltResponse(status=200)
    )
    return answer.status


def test_the_window_is_five_minutes_on_the_bots_clock() -> None:
    clock = ManualClock(datetime.fromtimestamp(TIMESTAMP, UTC) + timedelta(seconds=299))
    middleware = SignedRequestsOnly(SECRET, clock)
    assert dispatch_through(middleware, BODY, TIMESTAMP, SIGNATURE) == 200
    clock.advance(timedelta(seconds=2))  # 301 s after signing
    assert dispatch_through(middleware, BODY, TIMESTAMP, SIGNATURE) == 401
    clock.set(datetime.fromtimestamp(TIMESTAMP - 301, UTC))  # or from too far in the future
    assert dispatch_through(middleware, BODY, TIMESTAMP, SIGNATURE) == 401


def test_a_wrong_signature_is_refused_without_logging_the_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = ManualClock(datetime.fromtimestamp(TIMESTAMP, UTC))
    middleware = SignedRequestsOnly("another-secret", clock)
    assert dispatch_through(middleware, BODY, TIMESTAMP, SIGNATURE) == 401
    assert "roadrunner" not in caplog.text
    assert "bad or stale signature" in caplog.text
