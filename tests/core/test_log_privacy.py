"""No address, Slack URL or token in a log line, whichever library wrote it and at whatever level."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

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


def test_json_lines_carry_the_same_masked_text_and_the_traceback() -> None:
    import json

    from bot.log_privacy import JsonFormatter

    record = logging.LogRecord("slack_sdk.web", logging.ERROR, __file__, 1, "to %s", (RESPONSE_URL,), None)
    try:
        raise RuntimeError("refused for kari@kommune.no")
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "slack_sdk.web", "to <slack-url>")
    assert "RuntimeError: refused for <address>" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_log_format_is_read_from_the_environment_and_checked() -> None:
    from bot.entry.settings import load_settings
    from bot.settings import SettingsError

    assert load_settings({"LOG_FORMAT": "JSON"}, dotenv_path=None).log_format == "json"
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        load_settings({"LOG_FORMAT": "xml"}, dotenv_path=None)


def test_json_lines_carry_extra_fields_masked_and_credentials_by_name() -> None:
    import json

    from bot.log_privacy import JsonFormatter

    record = logging.makeLogRecord(
        {
            "name": "bot.delivery.worker",
            "levelname": "WARNING",
            "msg": "delivery %s: %s",
            "args": (7, "HTTP 503"),
            "delivery": 7,
            "in_doubt": True,
            "channel": "slack",
            "recipient": "kari@kommune.no",
            "client_secret": "Qx8~plain-looking-value",
            "level": "not allowed to replace the level",
        }
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "delivery 7: HTTP 503" and entry["level"] == "WARNING"
    assert (entry["delivery"], entry["in_doubt"], entry["channel"]) == (7, True, "slack")
    assert entry["recipient"] == "<address>" and entry["client_secret"] == "<secret>"
    assert not {"args", "msg", "lineno", "thread"} & entry.keys()  # LogRecord's own attributes


def test_the_cli_in_json_writes_one_parseable_object_per_line_without_secrets() -> None:
    import json

    code = (
        "import logging; from bot.entry.cli.common import setup_logging; setup_logging('INFO', 'json');"
        "from bot.error_policy import ErrorPolicy, HealthBoard; from bot.clock import SystemClock\n"
        "logging.getLogger('slack_sdk').warning('token xoxb-1-2-secret for %s', 'kari@kommune.no')\n"
        "try:\n    raise ValueError('Authorization: Bearer eyJ0eXAi.x.y\\nsecond line')\n"
        "except ValueError as exc:\n"
        "    ErrorPolicy(HealthBoard(SystemClock())).unexpected('sender slack', exc, delivery=42)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = done.stderr.splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 2
    assert entries[0]["message"] == "token <slack-token> for <address>"
    failure = entries[1]
    assert (failure["level"], failure["place"], failure["delivery"]) == ("ERROR", "sender slack", 42)
    assert failure["error"] == "ValueError"
    for secret in ("xoxb-1-2", "kari@", "eyJ0eXAi"):
        assert secret not in done.stderr
