"""The one place that decides what an unexpected exception does, wherever it happens: in a listener,
a job, a sender or the inbound worker (python-telegram-bot's `add_error_handler`, as one object).

It logs once, with where it happened, the exception's type and stack, and no personal data (e-mail
addresses in the message are masked; the database engine hides SQL parameters); it marks the place
in the health board `/healthz` reads; and the caller answers the user with the generic error reply
(`replies/error.txt`), which is the caller's business because only it knows the user. Expected
failures (a refusal, a throttled call, a database outage the caller retries) are not for this policy.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from threading import Lock
from typing import TypeVar, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.db import Database
from bot.leases import rowcount
from bot.models import HealthProblem

log = logging.getLogger("bot.errors")
T = TypeVar("T")

EMAIL_RE = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+")
MAX_MESSAGE = 300
# How long a place that failed counts as degraded on /healthz.
RECENT = timedelta(minutes=15)
MAX_PLACE, MAX_ERROR = 120, 400  # the widths of health_problem's columns
PROBLEMS = cast(Table, HealthProblem.__table__)


@dataclass
class Trouble:
    count: int = 0
    last_at: datetime | None = None
    last_error: str = ""


@dataclass
class HealthBoard:
    """Places that failed unexpectedly, for `/healthz`: a place is degraded for RECENT after its last
    failure. Kept in the database when there is one (every process of the bot reports there, and any
    process's /healthz shows them all), and in memory in case the database is what failed."""

    clock: Clock
    db: Database | None = None
    _places: dict[str, Trouble] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def failed(self, place: str, error: str) -> None:
        now = self.clock.now()
        with self._lock:
            trouble = self._places.setdefault(place, Trouble())
            trouble.count += 1
            trouble.last_at = now
            trouble.last_error = error
        if self.db is not None:
            try:
                self._store(self.db, place[:MAX_PLACE], error[:MAX_ERROR], now)
            except SQLAlchemyError as exc:  # the database may be the trouble: the memory has it
                log.warning("health board: not stored (%s)", type(exc).__name__)

    def recent(self) -> dict[str, Trouble]:
        """The places that failed within RECENT, with their counts."""
        cutoff = self.clock.now() - RECENT
        if self.db is not None:
            try:
                with self.db.read() as s:
                    rows = s.execute(
                        select(
                            PROBLEMS.c.place, PROBLEMS.c.failures, PROBLEMS.c.last_at, PROBLEMS.c.last_error
                        )
                        .where(PROBLEMS.c.last_at >= cutoff)
                        .order_by(PROBLEMS.c.place)
                    ).all()
                return {row.place: Trouble(row.failures, row.last_at, row.last_error) for row in rows}
            except SQLAlchemyError:
                pass
        with self._lock:
            return {
                place: Trouble(t.count, t.last_at, t.last_error)
                for place, t in self._places.items()
                if t.last_at is not None and t.last_at >= cutoff
            }

    @staticmethod
    def _store(db: Database, place: str, error: str, now: datetime) -> None:
        with db.transaction() as s:
            counted = s.execute(
                update(PROBLEMS)
                .where(PROBLEMS.c.place == place)
                .values(failures=PROBLEMS.c.failures + 1, last_at=now, last_error=error)
            )
            if not rowcount(counted):
                s.execute(insert(PROBLEMS).values(place=place, failures=1, last_at=now, last_error=error))


def without_personal_data(text: str) -> str:
    """An exception's message as it may be logged: addresses masked, length bounded."""
    masked = EMAIL_RE.sub("<address>", text)
    return masked if len(masked) <= MAX_MESSAGE else masked[:MAX_MESSAGE] + "…"


def where_raised(exc: BaseException) -> str:
    """The stack as file, line and function only: a source line may hold a literal worth keeping out
    of logs, and the file and line find it."""
    frames = traceback.extract_tb(exc.__traceback__)
    return "\n".join(f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames)


def describe(exc: BaseException) -> str:
    """`Type: message` with the message cleaned, for logs and stored error columns."""
    message = without_personal_data(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class ErrorPolicy:
    def __init__(self, health: HealthBoard) -> None:
        self.health = health

    def unexpected(self, place: str, exc: BaseException, **context: object) -> None:
        """Report an exception nobody expected at `place` (e.g. "job deliveries.plan",
        "inbound slack.command", "sender slack"): one log line with its stack, and the health mark.
        `context` holds ids only (a request id, a delivery id), never names or addresses."""
        summary = describe(exc)
        details = " ".join(f"{key}={value}" for key, value in context.items())
        stack = where_raised(exc)
        cause = exc.__cause__ or exc.__context__
        caused = f"\ncaused by {describe(cause)}" if cause is not None else ""
        log.error(
            "%s failed%s: %s\n%s%s",
            place,
            f" ({details})" if details else "",
            summary,
            stack,
            caused,
            extra={"place": place, "error": type(exc).__name__, **context},  # fields of a JSON line
        )
        self.health.failed(place, summary)

    @contextmanager
    def guard(self, place: str, **context: object) -> Iterator[None]:
        """Run a block that must never end its thread: an exception is reported and swallowed."""
        try:
            yield
        except Exception as exc:
            self.unexpected(place, exc, **context)

    def guarded(self, place: str, run: Callable[[], object]) -> Callable[[], None]:
        """`run` wrapped by `guard`, for threads and scheduled jobs."""

        def guarded_run() -> None:
            with self.guard(place):
                run()

        return guarded_run
