"""Log lines without personal data or credentials, whoever wrote them.

The bot's own lines never carry an address or a secret, but libraries' lines may: slack_sdk logs
whole `users.info` answers (e-mail addresses) and `response_url`s at DEBUG, a database driver quotes
a failed statement's parameters. Every line goes through `PrivateFormatter`, which masks e-mail
addresses, Slack's response and webhook URLs (each one a capability to post as the bot), Slack
tokens and Authorization headers, in the message and in any traceback. `JsonFormatter` writes the
same, masked, as one JSON object per line (LOG_FORMAT=json) for a log shipper.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from bot.error_policy import EMAIL_RE

MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"https://hooks\.slack\.com/[^\s'\"<>]+"), "<slack-url>"),
    (re.compile(r"\bx(?:ox[abpre]|app)-[A-Za-z0-9-]+"), "<slack-token>"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 <secret>"),
    (EMAIL_RE, "<address>"),
)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


class PrivateFormatter(logging.Formatter):
    """A formatter whose output has addresses, Slack URLs and tokens masked."""

    def format(self, record: logging.LogRecord) -> str:
        return masked(super().format(record))


# An extra field so named is a credential whatever it looks like (a client secret, a password).
SECRET_NAME = re.compile(r"(?i)secret|password|passwd|token|authori[sz]ation|api_?key|cookie")
# What every LogRecord holds; anything else on a record came as `extra=` and is a field of its own.
STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the traceback when
    there is one, and the fields given as `extra=` (numbers and booleans as they are, anything else
    as text); every text masked as PrivateFormatter masks it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": masked(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = masked(self.formatException(record.exc_info))
        for key, value in record.__dict__.items():
            if key not in STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = "<secret>" if SECRET_NAME.search(key) else _field(value)
        return json.dumps(entry, ensure_ascii=False)


def _field(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    return masked(str(value))


def formatter(kind: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT: "text" (the default) or "json"."""
    return JsonFormatter() if kind == "json" else PrivateFormatter(FORMAT)
