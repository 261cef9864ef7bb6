"""Settings from the environment and `.env`, validated once at start-up.

Every problem is collected and reported together, each naming its variable, so an operator fixes a
bad `.env` in one go. Secrets are kept out of `repr()` so they never reach a log line.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from sqlalchemy.engine import make_url

LANGUAGES = ("nb", "en")
T = TypeVar("T")


class SettingsError(Exception):
    """One or more settings are malformed; `problems` holds one line per variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)
    channel_id: str | None = None
    api_url: str = "https://slack.com/api/"

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


@dataclass(frozen=True)
class MicrosoftSettings:
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    organiser: str
    team_id: str | None = None
    channel_id: str | None = None
    authority_host: str = "https://login.microsoftonline.com"
    graph_api_url: str = "https://graph.microsoft.com/v1.0"
    # Seconds between looks at the Teams channel and the 1:1 chats (delta query), and at the calendar.
    poll_interval: float = 60.0
    calendar_sync_interval: float = 60.0
    # A channel message starting with this (or mentioning the service account) is a command.
    command_prefix: str = "!baerekraft"


@dataclass(frozen=True)
class DeliveryLimits:
    mail_rate_per_minute: int = 30
    mail_daily_recipients: int = 10_000
    mail_max_recipients: int = 500
    slack_rate_per_second: float = 1.0
    # chat.postMessage across the whole workspace (Slack publishes no figure: an assumption).
    slack_workspace_rate_per_minute: float = 600.0
    delivery_lease_seconds: int = 30
    # chat.postMessage calls at once: a round trip to Slack (100-300 ms from Europe) is slower than
    # the workspace's pace, so one at a time would never reach it.
    slack_sends_in_flight: int = 4


@dataclass(frozen=True)
class WebLimits:
    """Abuse guard of the web forms: confirmation and erase mails allowed per hour."""

    mails_per_address_per_hour: int = 3
    mails_per_client_per_hour: int = 20


@dataclass(frozen=True)
class Settings:
    # Out of repr: a PostgreSQL URL may hold a password. `database_url_safe` is the loggable form.
    database_url: str = field(default="sqlite:///./baerekraft.db", repr=False)
    timezone: str = "Europe/Oslo"
    language: str = "nb"
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    secret_key_is_temporary: bool = True
    log_level: str = "INFO"
    # `run` as a service: the web server and the channels in one process, the work (commands after
    # their ack, sending) in a forked worker process at a lower CPU priority (`nice`).
    worker_process: bool = True
    worker_nice: int = 10
    slack: SlackSettings | None = None
    microsoft: MicrosoftSettings | None = None
    limits: DeliveryLimits = field(default_factory=DeliveryLimits)
    web_limits: WebLimits = field(default_factory=WebLimits)
    # Why a channel is off, one line each, for the start-up log.
    disabled_channels: tuple[str, ...] = ()

    @property
    def database_url_safe(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class _Reader:
    """Reads typed values from a mapping, collecting problems instead of raising on the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "")
        value = value.strip()
        return value if value else default

    def parsed(self, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except (ValueError, ZoneInfoNotFoundError):
            self.problems.append(f"{name}: {raw!r} is not {what}")
            return default

    def url(self, name: str, default: str | None = None, *, https_only: bool = False) -> str | None:
        raw = self.text(name)
        if raw is None:
            return default
        parts = urlsplit(raw)
        schemes = ("https",) if https_only else ("http", "https")
        if parts.scheme not in schemes or not parts.netloc:
            need = "an https:// URL" if https_only else "an http(s):// URL"
            self.problems.append(f"{name}: {raw!r} is not {need}")
            return default
        return raw


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(raw)
    return value


def _lease_seconds(raw: str) -> int:
    value = int(raw)
    if not 5 <= value <= 3600:
        raise ValueError(raw)
    return value


def _boolean(raw: str) -> bool:
    value = raw.lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ValueError(raw)


def _in_flight(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 16:
        raise ValueError(raw)
    return value


def _nice(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 19:
        raise ValueError(raw)
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError(raw)
    return value


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(raw) from exc
    return raw


def _language(raw: str) -> str:
    if raw not in LANGUAGES:
        raise ValueError(raw)
    return raw


def _database_url(raw: str) -> str:
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        raise ValueError(raw)
    if raw.startswith("postgres:"):
        raw = "postgresql+psycopg:" + raw[len("postgres:") :]
    elif raw.startswith("postgresql:"):
        raw = "postgresql+psycopg:" + raw[len("postgresql:") :]
    return raw


def _slack(r: _Reader) -> tuple[SlackSettings | None, str | None]:
    token, secret = r.text("SLACK_BOT_TOKEN"), r.text("SLACK_SIGNING_SECRET")
    app_token = r.text("SLACK_APP_TOKEN")
    api_url = r.url("SLACK_API_URL", "https://slack.com/api/") or "https://slack.com/api/"
    if app_token is not None and not app_token.startswith("xapp-"):
        r.problems.append("SLACK_APP_TOKEN: an app-level token starts with 'xapp-'")
    missing = [n for n, v in (("SLACK_BOT_TOKEN", token), ("SLACK_SIGNING_SECRET", secret)) if v is None]
    if missing:
        return None, f"Slack is off: {', '.join(missing)} not set"
    assert token is not None and secret is not None
    if not api_url.endswith("/"):
        api_url += "/"
    return (
        SlackSettings(token, secret, app_token, r.text("SLACK_CHANNEL_ID"), api_url),
        None,
    )


def _microsoft(r: _Reader) -> tuple[MicrosoftSettings | None, str | None]:
    names = ("MS_TENANT_ID", "MS_CLIENT_ID", "MS_CLIENT_SECRET", "MS_ORGANISER")
    values = {n: r.text(n) for n in names}
    authority = r.url("MS_AUTHORITY_HOST", "https://login.microsoftonline.com", https_only=True)
    graph = r.url("GRAPH_API_URL", "https://graph.microsoft.com/v1.0", https_only=True)
    missing = [n for n, v in values.items() if v is None]
    if missing:
        return None, f"Microsoft 365 is off: {', '.join(missing)} not set"
    return (
        MicrosoftSettings(
            tenant_id=values["MS_TENANT_ID"] or "",
            client_id=values["MS_CLIENT_ID"] or "",
            client_secret=values["MS_CLIENT_SECRET"] or "",
            organiser=values["MS_ORGANISER"] or "",
            team_id=r.text("TEAMS_TEAM_ID"),
            channel_id=r.text("TEAMS_CHANNEL_ID"),
            authority_host=(authority or "").rstrip("/"),
            graph_api_url=(graph or "").rstrip("/"),
            poll_interval=r.parsed("TEAMS_POLL_INTERVAL", 60.0, _positive_float, "a positive number"),
            calendar_sync_interval=r.parsed(
                "CALENDAR_SYNC_INTERVAL", 60.0, _positive_float, "a positive number"
            ),
            command_prefix=r.text("TEAMS_COMMAND_PREFIX", "!baerekraft") or "!baerekraft",
        ),
        None,
    )


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] | None = ".env"
) -> Settings:
    """Settings from `environ` (default: the process environment) over the values in `.env`."""
    env: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    r = _Reader(env)

    secret = r.text("SECRET_KEY")
    if secret is not None and len(secret) < 16:
        r.problems.append("SECRET_KEY: must be at least 16 characters")
    slack, slack_off = _slack(r)
    microsoft, ms_off = _microsoft(r)
    log_level = (r.text("LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        r.problems.append(f"LOG_LEVEL: {log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")
    settings = Settings(
        database_url=r.parsed(
            "DATABASE_URL", "sqlite:///./baerekraft.db", _database_url, "a sqlite:// or postgresql:// URL"
        ),
        timezone=r.parsed("BOT_TIMEZONE", "Europe/Oslo", _timezone, "a known IANA time zone"),
        language=r.parsed("BOT_LANGUAGE", "nb", _language, f"one of {', '.join(LANGUAGES)}"),
        host=r.text("HOST", "127.0.0.1") or "127.0.0.1",
        port=r.parsed("PORT", 8000, _port, "a port number (0-65535)"),
        public_base_url=(r.url("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        secret_key=secret or secrets.token_urlsafe(32),
        secret_key_is_temporary=secret is None,
        log_level=log_level,
        worker_process=r.parsed("WORKER_PROCESS", True, _boolean, "true or false"),
        worker_nice=r.parsed("WORKER_NICE", 10, _nice, "a whole number from 0 to 19"),
        slack=slack,
        microsoft=microsoft,
        limits=DeliveryLimits(
            mail_rate_per_minute=r.parsed(
                "MAIL_RATE_PER_MINUTE", 30, _positive_int, "a positive whole number"
            ),
            mail_daily_recipients=r.parsed(
                "MAIL_DAILY_RECIPIENTS", 10_000, _positive_int, "a positive whole number"
            ),
            mail_max_recipients=r.parsed(
                "MAIL_MAX_RECIPIENTS", 500, _positive_int, "a positive whole number"
            ),
            slack_rate_per_second=r.parsed(
                "SLACK_RATE_PER_SECOND", 1.0, _positive_float, "a positive number"
            ),
            slack_workspace_rate_per_minute=r.parsed(
                "SLACK_WORKSPACE_RATE_PER_MINUTE", 600.0, _positive_float, "a positive number"
            ),
            delivery_lease_seconds=r.parsed(
                "DELIVERY_LEASE_SECONDS", 30, _lease_seconds, "a whole number of seconds from 5 to 3600"
            ),
            slack_sends_in_flight=r.parsed(
                "SLACK_SENDS_IN_FLIGHT", 4, _in_flight, "a whole number from 1 to 16"
            ),
        ),
        web_limits=WebLimits(
            mails_per_address_per_hour=r.parsed(
                "WEB_MAILS_PER_ADDRESS_PER_HOUR", 3, _positive_int, "a positive whole number"
            ),
            mails_per_client_per_hour=r.parsed(
                "WEB_MAILS_PER_CLIENT_PER_HOUR", 20, _positive_int, "a positive whole number"
            ),
        ),
        disabled_channels=tuple(line for line in (slack_off, ms_off) if line),
    )
    if r.problems:
        raise SettingsError(r.problems)
    return settings
