"""`/slack/events` refuses what is not Slack before reading it: an unsigned or badly signed request
gets 401 whatever its body holds, a signed one that is not a Slack payload gets 400; never a 500."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from bot.clock import ManualClock
from bot.entry.settings import BotSettings
from handlers.slack.bolt_app import a_slack_body
from tests.slack.fakes.slack_bot import SlackBot, slack_bot

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        yield running


def hostile_bodies(count: int, seed: int = 11) -> list[bytes]:
    draw = random.Random(seed)
    deep = "[" * 5_000 + "]" * 5_000  # deeper than the JSON parser recurses
    fixed = [
        b"payload=not-json",
        b"payload=" + urlencode({"x": "[]"}).encode()[2:],
        urlencode({"payload": "[]"}).encode(),
        urlencode({"payload": "null"}).encode(),
        urlencode({"payload": '"a string"'}).encode(),
        urlencode({"payload": deep}).encode(),
        urlencode({"payload": json.dumps({"type": ["block_actions"]})}).encode(),
        b"\xff\xfe\x00 not utf-8",
        b"",
        b"command=%2Fbaerekraft&text=%00",
    ]
    random_ones = [bytes(draw.randrange(256) for _ in range(draw.randrange(1, 300))) for _ in range(count)]
    return fixed + random_ones


def test_unsigned_hostile_bodies_are_refused_before_they_are_read(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    url = bot.slack.events_url
    statuses = set()
    for body in hostile_bodies(150):
        answer = bot.slack.http.post(url, content=body, headers={"Content-Type": FORM})
        statuses.add(answer.status_code)
    for stamp in ("abc", "", "9" * 40, "-1", "1e10"):
        headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=00"}
        statuses.add(bot.slack.http.post(url, content=b"payload=%5B%5D", headers=headers).status_code)
    assert statuses == {401}
    assert "Traceback" not in caplog.text


def test_signing_headers_outside_ascii_are_refused_with_401(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    body, _key = bot.slack.command_body("meld på", "U0KARI")
    for signature in (b"v0=\xe9", b"v0=" + b"\xff" * 64):
        answer = bot.slack.send(body, FORM, headers={"X-Slack-Signature": signature})  # type: ignore[dict-item]
        assert answer.status_code == 401
    for stamp in (b"\xb9\xb2", b"1\xb3"):  # digits to str.isdigit, not to int()
        answer = bot.slack.send(body, FORM, headers={"X-Slack-Request-Timestamp": stamp})  # type: ignore[dict-item]
        assert answer.status_code == 401
    assert "Traceback" not in caplog.text


def test_signed_bodies_that_are_no_slack_request_get_400(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    signable = [body for body in hostile_bodies(50) if _utf8(body)]  # Slack signs text
    statuses = {bot.slack.send(body, FORM).status_code for body in signable}
    assert statuses <= {200, 400, 404}  # 404: Bolt has no listener for such a request
    assert 400 in statuses
    assert "Traceback" not in caplog.text


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize(
    ("body", "slack_sends_it"),
    [
        (b"command=%2Fbaerekraft&text=meld+p%C3%A5", True),
        (b"ssl_check=1&token=x", True),
        (b"%63ommand=%2Fbaerekraft&text=x", True),  # a name percent-encoded reads as decoded
        (b"pay+load=%7B%7D", False),
        (b"payload=%7B%22type%22%3A%22block_actions%22%7D", True),
        (b"command=%2Fbaerekraft&&text=x", False),  # an empty field
        (b"command=%2Fbaerekraft&text", False),  # a field without a value
        (b"text=meld+p%C3%A5", False),  # no command
        (b"payload=%5B%5D", False),  # a payload that is no object
        (b"payload=%7B%7D&payload=%7B%7D", False),  # two payloads
        (b"", False),
        (b"\xff", False),
    ],
)
def test_a_form_is_a_slack_body_only_as_slack_writes_it(body: bytes, slack_sends_it: bool) -> None:
    assert a_slack_body(body, "application/x-www-form-urlencoded") is slack_sends_it
