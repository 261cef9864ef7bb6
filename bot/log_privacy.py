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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the traceback
    when there is one; every text masked as PrivateFormatter masks it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": masked(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = masked(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def formatter(kind: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT: "text" (the default) or "json"."""
    return JsonFormatter() if kind == "json" else PrivateFormatter(FORMAT)
