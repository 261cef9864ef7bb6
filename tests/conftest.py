"""Shared fixtures: every database test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL.

With TEST_DATABASE_URL set, an unreachable PostgreSQL fails the run: it is never skipped.
Each test gets a migrated database of its own (SQLite: a copied file; PostgreSQL: a private schema,
emptied between tests and re-seeded with what the migrations put there).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, delete, func, insert, select, text

from bot.clock import ManualClock
from bot.commands import Actor
from bot.db import make_engine
from bot.entry.composition import App, build
from bot.entry.runtime import work_of
from bot.entry.settings import BotSettings
from bot.inbox_worker import InboxWorker
from bot.migrate import upgrade
from bot.parser import parse

# SQLite waits for the disk at each commit (synchronous=FULL): the tests' files live on a RAM disk
# when there is one (about a sixth of the quick tests' time). TMPDIR set by the caller wins.
if "TMPDIR" not in os.environ and os.access("/dev/shm", os.W_OK):
    os.environ["TMPDIR"] = "/dev/shm"
    tempfile.tempdir = None

TEST_PG = os.environ.get("TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite", "postgresql"] if TEST_PG else ["sqlite"]
# A fixed "now": Wednesday 4 March 2026, 10:00 UTC (11:00 in Oslo, winter time).
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def pg_url(schema: str | None = None) -> str:
    url = TEST_PG
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if schema:
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    return url


@dataclass
class PgSchema:
    url: str
    engine: Engine
    tables: list[Table]  # every table the migrations made but alembic_version, parents first
    seed: dict[str, list[dict[str, Any]]]

    def reset(self) -> None:
        """Empty every table, restart every sequence and put back what the migrations seeded.

        DELETE, not TRUNCATE, in one round trip: on the few rows a test leaves, TRUNCATE's new files
        for every table cost ten times as much (measured 0.5 s against 0.05 s per test).
        """
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._empty_sql)
            for table in self.tables:
                if self.seed.get(table.name):
                    conn.execute(insert(table), self.seed[table.name])
                    highest = select(func.max(table.c.id)).scalar_subquery()
                    conn.execute(select(func.setval(func.pg_get_serial_sequence(table.name, "id"), highest)))

    @cached_property
    def _empty_sql(self) -> str:
        children_first = reversed(self.tables)
        deletes = [f"{delete(table).compile(self.engine)};" for table in children_first]
        restart = (
            "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, "
            "start_value, false) FROM pg_sequences WHERE schemaname = current_schema();"
        )
        return " ".join([*deletes, restart])


def new_pg_schema() -> tuple[str, str]:
    """A fresh, empty schema on the test server; returns (schema, url). Fails loudly when unreachable."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(pg_url())
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return schema, pg_url(schema)


def drop_pg_schema(schema: str) -> None:
    admin = make_engine(pg_url())
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[PgSchema]:
    schema, url = new_pg_schema()
    upgrade(url)
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)  # once: the handlers' tables too, whether or not their models are imported yet
    tables = [t for t in meta.sorted_tables if t.name != "alembic_version"]
    with engine.connect() as conn:
        seed = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in tables}
    yield PgSchema(url, engine, tables, seed)
    engine.dispose()
    drop_pg_schema(schema)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, seeded, private database for this test."""
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    schema: PgSchema = request.getfixturevalue("pg_schema")
    schema.reset()
    return schema.url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def settings(db_url: str) -> BotSettings:
    return BotSettings(
        database_url=db_url, secret_key="test-secret-key-0123456789", secret_key_is_temporary=False
    )


@pytest.fixture
def app(settings: BotSettings, clock: ManualClock) -> Iterator[App]:
    bot = build(settings, clock=clock, migrate=False)
    yield bot
    bot.close()


def person(email: str, **kwargs: Any) -> Actor:
    """A console user vouched for by the operator, as `shell --as EMAIL` makes one."""
    return Actor("console", email, email=email, **kwargs)


ORGANISER = replace(person("org@kommune.no"), is_operator=True)


@pytest.fixture
def say(app: App) -> Callable[..., str]:
    """Send a line as `actor` through the whole core path and get the rendered text reply."""

    def send(actor: Actor, line: str, fmt: str = "text") -> str:
        return app.renderer.reply(app.dispatcher.execute(actor, parse(line)), fmt=fmt)

    return send


@contextmanager
def inbox_worker(app: App) -> Iterator[InboxWorker]:
    """As the worker process would: carry out, in the background, what the channels recorded."""
    worker = InboxWorker(app.inbox, work_of(app.channels)).start()
    app.inbox.on_arrival(worker.wake)
    try:
        yield worker
    finally:
        worker.stop()
