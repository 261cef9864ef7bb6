"""Request signing: slack_sdk's verifier against Slack's published example, and the Request URL's
check measuring the five-minute window on the bot's own clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from slack_sdk.signature import Clock, SignatureVerifier

from bot.clock import ManualClock
from handlers.slack.bolt_app import signed_by_slack
from handlers.slack.verification import SlackSignature, clocked_verifier
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


def test_the_routes_check_signs_as_slack_and_slack_sdk_do() -> None:
    clock = ManualClock(datetime.fromtimestamp(TIMESTAMP, UTC))
    ours = SlackSignature(SECRET, clock)
    assert ours.expected(str(TIMESTAMP), BODY.encode()) == SIGNATURE
    assert ours.is_valid(BODY.encode(), str(TIMESTAMP), SIGNATURE)
    draw = random.Random(5)
    sdk = SignatureVerifier("another-secret")
    ours = SlackSignature("another-secret", clock)
    for _ in range(50):
        body = "".join(chr(draw.randrange(32, 0x2FFF)) for _ in range(draw.randrange(0, 80)))
        stamp = str(draw.randrange(10**9, 10**10))
        assert ours.expected(stamp, body.encode()) == sdk.generate_signature(timestamp=stamp, body=body)


def test_the_tests_sign_requests_exactly_as_slack_does() -> None:
    headers = signed_headers(SECRET, BODY.encode(), TIMESTAMP, "application/x-www-form-urlencoded")
    assert headers["X-Slack-Signature"] == SIGNATURE
    assert headers["X-Slack-Request-Timestamp"] == str(TIMESTAMP)


def route_check(verifier: SignatureVerifier, body: str, timestamp: int, signature: str) -> bool:
    headers = {"x-slack-request-timestamp": str(timestamp), "x-slack-signature": signature}
    return signed_by_slack(verifier, body.encode(), headers)


def test_the_window_is_five_minutes_on_the_bots_clock() -> None:
    clock = ManualClock(datetime.fromtimestamp(TIMESTAMP, UTC) + timedelta(seconds=299))
    verifier = clocked_verifier(SECRET, clock)
    assert route_check(verifier, BODY, TIMESTAMP, SIGNATURE)
    clock.advance(timedelta(seconds=2))  # 301 s after signing
    assert not route_check(verifier, BODY, TIMESTAMP, SIGNATURE)
    clock.set(datetime.fromtimestamp(TIMESTAMP - 301, UTC))  # or from too far in the future
    assert not route_check(verifier, BODY, TIMESTAMP, SIGNATURE)


def test_a_wrong_secret_or_a_malformed_timestamp_is_refused() -> None:
    clock = ManualClock(datetime.fromtimestamp(TIMESTAMP, UTC))
    assert not route_check(clocked_verifier("another-secret", clock), BODY, TIMESTAMP, SIGNATURE)
    headers = {"x-slack-request-timestamp": f" {TIMESTAMP}", "x-slack-signature": SIGNATURE}
    assert not signed_by_slack(clocked_verifier(SECRET, clock), BODY.encode(), headers)


def test_a_signature_that_is_not_ascii_is_refused_not_an_error() -> None:
    clock = ManualClock(datetime.fromtimestamp(TIMESTAMP, UTC))
    for signature in ("v0=é", SIGNATURE[:-1] + "é", "ÿ" * len(SIGNATURE)):
        assert not route_check(clocked_verifier(SECRET, clock), BODY, TIMESTAMP, signature)
