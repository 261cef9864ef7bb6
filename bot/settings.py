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

LANGUAGES = ("nb", "en", "da", "nn")
T = TypeVar("T")


class SettingsError(Exception):
    """One or more settings are malformed; `problems` holds one line per variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class DeliveryLimits:
    """The pace of mail, whichever transport carries it, and how long a send may hold its row."""

    mail_rate_per_minute: int = 30
    mail_daily_recipients: int = 10_000
    mail_max_recipients: int = 500
    delivery_lease_seconds: int = 30
    # "bcc": reminders and follow-ups by mail go as one message per MAIL_MAX_RECIPIENTS people of a
    # language, in Bcc, with the series' leave page instead of a personal unsubscribe link.
    mail_batch: str = "off"


@dataclass(frozen=True)
class Settings:
    """The core's settings. Each channel reads its own section (`handlers/<channel>/settings.py`);
    `bot/entry/settings.py` puts them together."""

    # Out of repr: a PostgreSQL URL may hold a password. `database_url_safe` is the loggable form.
    database_url: str = field(default="sqlite:///./baerekraft.db", repr=False)
    timezone: str = "Europe/Oslo"
    language: str = "nb"
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    secret_key_is_temporary: bool = True
    # Shows operators the detailed `/healthz` (channels, problems) as `Authorization: Bearer <token>`;
    # unset, `/healthz` only says whether the bot is alive.
    health_token: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one JSON object per line
    # Who may read /metrics: a bearer of this token; unset, only a client on this machine.
    metrics_token: str | None = field(default=None, repr=False)
    # `run` as a service: the web server and the channels in one process, the work (commands after
    # their ack, sending) in a forked worker process at a lower CPU priority: sending at `nice`, the
    # commands by default only when the front has nothing to do (Linux SCHED_IDLE; README, "Processes").
    worker_process: bool = True
    worker_idle: bool = True
    worker_nice: int = 10
    limits: DeliveryLimits = field(default_factory=DeliveryLimits)
    # Where acked requests wait on local disk while the database cannot take them (bot/inbox_spool.py).
    inbox_spool_dir: str = "./spool"
    # The development mailbox: console mode without a mail transport writes mails here as .eml files.
    mail_dir: str = "./mail"
    # «Bring a colleague»: invitations one person may send a day, and how long an address that had
    # one waits before another invitation to the same series may reach it.
    colleague_invites_per_day: int = 5
    colleague_invite_quiet_days: int = 30

    @property
    def database_url_safe(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Reader:
    """Reads typed values from a mapping, collecting problems instead of raising on the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raise_problems(self) -> None:
        """Raise every problem collected so far, in one SettingsError."""
        if self.problems:
            raise SettingsError(self.problems)

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


def batch_mode(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("bcc", "off"):
        raise ValueError(raw)
    return value


def positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(raw)
    return value


def lease_seconds(raw: str) -> int:
    value = int(raw)
    if not 5 <= value <= 3600:
        raise ValueError(raw)
    return value


def boolean(raw: str) -> bool:
    value = raw.lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ValueError(raw)


def in_flight(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 16:
        raise ValueError(raw)
    return value


def nice(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 19:
        raise ValueError(raw)
    return value


def port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError(raw)
    return value


def timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(raw) from exc
    return raw


def language(raw: str) -> str:
    if raw not in LANGUAGES:
        raise ValueError(raw)
    return raw


def database_url(raw: str) -> str:
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        raise ValueError(raw)
    if raw.startswith("postgres:"):
        raw = "postgresql+psycopg:" + raw[len("postgres:") :]
    elif raw.startswith("postgresql:"):
        raw = "postgresql+psycopg:" + raw[len("postgresql:") :]
    return raw


def read_environment(
    environ: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] | None = ".env"
) -> dict[str, str]:
    """`environ` (default: the process environment) over the values in `.env`."""
    env: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    return env


def core_settings(r: Reader) -> Settings:
    """The core's section; problems are collected in `r` (the caller raises them with the channels')."""
    secret = r.text("SECRET_KEY")
    if secret is not None and len(secret) < 16:
        r.problems.append("SECRET_KEY: must be at least 16 characters")
    health_token = r.text("HEALTH_TOKEN")
    if health_token is not None and len(health_token) < 16:
        r.problems.append("HEALTH_TOKEN: must be at least 16 characters")
    metrics_token = r.text("METRICS_TOKEN") or None
    if metrics_token is not None and len(metrics_token) < 16:
        r.problems.append("METRICS_TOKEN: must be at least 16 characters")
    log_level = (r.text("LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        r.problems.append(f"LOG_LEVEL: {log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")
    log_format = (r.text("LOG_FORMAT", "text") or "text").lower()
    if log_format not in ("text", "json"):
        r.problems.append(f"LOG_FORMAT: {log_format!r} is not text or json")
    return Settings(
        database_url=r.parsed(
            "DATABASE_URL", "sqlite:///./baerekraft.db", database_url, "a sqlite:// or postgresql:// URL"
        ),
        timezone=r.parsed("BOT_TIMEZONE", "Europe/Oslo", timezone, "a known IANA time zone"),
        language=r.parsed("BOT_LANGUAGE", "nb", language, f"one of {', '.join(LANGUAGES)}"),
        host=r.text("HOST", "127.0.0.1") or "127.0.0.1",
        port=r.parsed("PORT", 8000, port, "a port number (0-65535)"),
        public_base_url=(r.url("PUBLIC_BASE_URL") or "").rstrip("/") or None,
        secret_key=secret or secrets.token_urlsafe(32),
        secret_key_is_temporary=secret is None,
        health_token=health_token,
        log_level=log_level,
        log_format=log_format,
        metrics_token=metrics_token,
        worker_process=r.parsed("WORKER_PROCESS", True, boolean, "true or false"),
        worker_idle=r.parsed("WORKER_IDLE", True, boolean, "true or false"),
        worker_nice=r.parsed("WORKER_NICE", 10, nice, "a whole number from 0 to 19"),
        inbox_spool_dir=r.text("INBOX_SPOOL_DIR", "./spool") or "./spool",
        mail_dir=r.text("MAIL_DIR", "./mail") or "./mail",
        colleague_invites_per_day=r.parsed(
            "COLLEAGUE_INVITES_PER_DAY", 5, positive_int, "a positive whole number"
        ),
        colleague_invite_quiet_days=r.parsed(
            "COLLEAGUE_INVITE_QUIET_DAYS", 30, positive_int, "a positive whole number"
        ),
        limits=DeliveryLimits(
            mail_rate_per_minute=r.parsed(
                "MAIL_RATE_PER_MINUTE", 30, positive_int, "a positive whole number"
            ),
            mail_daily_recipients=r.parsed(
                "MAIL_DAILY_RECIPIENTS", 10_000, positive_int, "a positive whole number"
            ),
            mail_max_recipients=r.parsed("MAIL_MAX_RECIPIENTS", 500, positive_int, "a positive whole number"),
            delivery_lease_seconds=r.parsed(
                "DELIVERY_LEASE_SECONDS", 30, lease_seconds, "a whole number of seconds from 5 to 3600"
            ),
            mail_batch=r.parsed("MAIL_BATCH", "off", batch_mode, "bcc or off"),
        ),
    )
