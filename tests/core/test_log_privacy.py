"""No address, Slack URL or token in a log line, whichever library wrote it and at whatever level."""

from __future__ import annotations

import logging
import subprocess
import sys

from bot.log_privacy import FORMAT, PrivateFormatter

SLACK_ANSWER = (
    "Received the following response - status: 200, body: {'ok': True, 'user': {'id': 'U0KARI', "
    "'profile': {'email': 'Kari.Nordmann@kommune.no'}}}"
)
RESPONSE_URL = "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"


def _format(message: str, *args: object, exc: BaseException | None = None) -> str:
    record = logging.LogRecord("slack_sdk.web", logging.DEBUG, __file__, 1, message, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    return PrivateFormatter(FORMAT).format(record)


def test_library_debug_lines_lose_addresses_and_response_urls() -> None:
    line = _format("%s; posting to %s", SLACK_ANSWER, RESPONSE_URL)
    assert "kommune.no" not in line and "hooks.slack.com/commands" not in line
    assert "<address>" in line and "<slack-url>" in line
    assert "U0KARI" in line  # what is needed to follow a problem stays


def test_tokens_and_authorization_headers_are_masked_in_tracebacks_too() -> None:
    try:
        raise ValueError(
            "refused xoxb-1234-5678-abcdef with headers {'Authorization': 'Bearer eyJ0eXAi.x.y'}"
        )
    except ValueError as exc:
        line = _format("call failed", exc=exc)
    assert "xoxb-1234" not in line and "eyJ0eXAi" not in line
    assert "<slack-token>" in line and "Bearer <secret>" in line


def test_the_cli_logs_through_the_masking_formatter() -> None:
    code = (
        "import logging; from bot.entry.cli.common import setup_logging; setup_logging('DEBUG'); "
        "logging.getLogger('sqlalchemy').error('parameters: %s', ('kari@kommune.no',))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "parameters: ('<address>',)" in done.stderr and "kari@" not in done.stderr
