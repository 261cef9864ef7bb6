"""Engine, transactions and the UTC datetime column type shared by SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, DateTime, Engine, Table, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

SQLITE_BEGIN = "sqlite_begin"
SQLITE_BUSY_SECONDS = 30  # how long a writer waits for SQLite's lock before "database is locked"
# A pooled server connection unused this long is pinged before it is handed out (see `_ping_when_idle`).
IDLE_PING_SECONDS = 10.0
# Each pooled connection keeps its own page cache (SQLite's default: up to 2 MiB). The pages are in
# the operating system's file cache anyway, and every write by another connection or process makes
# the cached ones stale: a small cache each costs little time and saves megabytes per process.
SQLITE_CACHE_KIB = 512


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; always returns aware UTC datetimes, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, *, idle_ping_seconds: float = IDLE_PING_SECONDS, **kwargs: Any) -> Engine:
    """An engine with the settings each backend needs to behave the same way."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
            hide_parameters=True,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.close()
            # SQLAlchemy begins transactions itself (below), not the sqlite3 module.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A transaction that will write takes the write lock when it begins (waiting for it up to
            # the busy timeout). A deferred one that read first and writes after another connection
            # committed fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT): with several
            # threads and processes writing, that would be an everyday error.
            mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    engine = create_engine(url, hide_parameters=True, **kwargs)
    _ping_when_idle(engine, idle_ping_seconds)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before handing it out only when it sat unused `idle_seconds` or more.

    Why not `pool_pre_ping`: it pings on every checkout, one more round trip for each transaction
    (about 0.4 ms of CPU and a network round trip with PostgreSQL: the inbox worker opens two or three
    transactions a command). An idle connection is the one a server restart, a failover or a firewall
    has most likely cut; it is pinged, and replaced when dead (the pool retries the checkout). A
    connection in steady use that the server cut fails its next statement instead: SQLAlchemy sees
    the disconnect and invalidates the pool, and the caller's OperationalError is handled as the
    database being away for a moment (the inbox and the delivery engine try again).
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new (just connected) or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("an idle pooled connection is gone") from exc
        if not alive:
            raise DisconnectionError("an idle pooled connection is gone")


def dialect_insert(dialect: str) -> Callable[[Table], Any]:
    """The backend's own `insert` (the one with `ON CONFLICT`), by dialect name. Its dialect module is
    imported here, when a backend first asks: a process on SQLite never loads PostgreSQL's (2 MB)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise KeyError(dialect)


class ByDialect:
    """One statement per backend, keyed by dialect name (`statements[conn.dialect.name]`), each built
    the first time its backend asks for it (a race builds it twice, alike)."""

    def __init__(self, build: Callable[[str], Any]) -> None:
        self._build = build
        self._built: dict[str, Any] = {}

    def __getitem__(self, dialect: str) -> Any:
        statement = self._built.get(dialect)
        if statement is None:
            statement = self._built[dialect] = self._build(dialect)
        return statement


# A multi-row statement (an INSERT of many rows with RETURNING; SQLAlchemy writes the rows of one
# such `execute` into one statement) is a statement of its own for every number of rows, and SQLite
# keeps each one prepared in the connection's cache: about 1.2 KiB of compiled program a row. Written
# in whatever number a group happened to have (up to 500), the worker's prepared INSERTs grew by
# 11 MB over 9,300 commands and kept growing with every new size. In runs of these sizes there are
# seven statements at most (150 KiB a connection).
RUN_SIZES = (64, 32, 16, 8, 4, 2, 1)


def in_runs(rows: Sequence[T]) -> Iterator[Sequence[T]]:
    """`rows` in consecutive runs of RUN_SIZES, the largest that fits first (100 rows: 64, 32, 4)."""
    start = 0
    while start < len(rows):
        size = next(size for size in RUN_SIZES if size <= len(rows) - start)
        yield rows[start : start + size]
        start += size


def insert_ignoring(table: Table, *unique: str, returning: tuple[Column[Any], ...] = ()) -> ByDialect:
    """`INSERT ... ON CONFLICT (unique) DO NOTHING [RETURNING ...]` into `table`, built once for each
    backend: a row whose key exists is left alone."""

    def build(dialect: str) -> Any:
        statement = dialect_insert(dialect)(table).on_conflict_do_nothing(index_elements=list(unique))
        return statement.returning(*returning) if returning else statement

    return ByDialect(build)


class Database:
    """The one place that opens transactions: `with db.transaction() as s: ...` commits or rolls back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Same pool; on SQLite its transactions begin IMMEDIATE (see make_engine).
        self._write_engine = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._writing = sessionmaker(self._write_engine, expire_on_commit=False)
        # SQLite has one writer at a time. Threads of one process waiting for it in SQLite's busy
        # handler sleep in steps of up to 100 ms and leave the lock idle when it frees; queued on a
        # lock of the process, the next one starts the moment the last one ends.
        self._turn = threading.RLock() if engine.dialect.name == "sqlite" else None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._take_turn(), self._writing() as session, session.begin():
            yield session

    @contextmanager
    def statements(self) -> Iterator[Connection]:
        """A transaction without an ORM session, for a table-level statement on a hot path (the
        inbox writer's INSERT): commits or rolls back, and on SQLite begins IMMEDIATE too."""
        with self._take_turn(), self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """One transaction for several units of work (`Batch.unit`): one commit, and on SQLite one
        turn of the write lock, for all of them. Commits at the end, or rolls everything back on an
        exception; raises Spoiled (rolling back) when a unit failed after it wrote."""
        with self._take_turn(), self._write_engine.connect() as conn, conn.begin():
            batch = Batch(conn)
            try:
                yield batch
            finally:
                batch.close()
            if batch.spoiled:
                raise Spoiled("a unit of the batch failed after it wrote: nothing of it commits")

    @contextmanager
    def _take_turn(self) -> Iterator[None]:
        """This process's turn to write (SQLite); after the busy timeout without it, go ahead and let
        SQLite's own wait decide (a writer that never ends still gets "database is locked")."""
        if self._turn is None:
            yield
            return
        taken = self._turn.acquire(timeout=SQLITE_BUSY_SECONDS)
        try:
            yield
        finally:
            if taken:
                self._turn.release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; closed (its transaction rolled back) at the end. Loaded objects stay
        readable afterwards, detached."""
        with self._sessions() as session:
            yield session


# In the session info of a batch's unit that may share reads with the others (`Batch.unit`).
KEPT = "batch.kept"


class Spoiled(Exception):
    """A batch that may not commit: one of its units failed after it wrote (see `Batch`)."""


class Batch:
    """A transaction shared by several units of work (`Database.batch`). Each unit gets a session
    of its own: what it loads or makes is not seen by the next unit's session.

    A unit has no savepoint (two round trips each on PostgreSQL, and much of SQLAlchemy's CPU for a
    small command). A unit that fails before it wrote anything (a refusal, usually) leaves nothing
    to undo: the batch goes on. One that fails after it wrote, or whose statement the database
    refused (on PostgreSQL that aborts the whole transaction), spoils the batch (`spoiled`):
    nothing of it may commit. Its caller rolls it back and carries the other units out again (the
    inbox worker); `Database.batch` refuses to commit it.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # "rollback_only": a unit's session closed without a rollback (after its flush, or after
        # an exception) leaves the shared transaction alone.
        self._sessions = sessionmaker(conn, join_transaction_mode="rollback_only", expire_on_commit=False)
        self._kept: dict[Any, Any] = {}
        self.writes = 0  # statements but reads run in the transaction so far
        self.spoiled = False
        event.listen(conn, "before_cursor_execute", self._counted)

    def _counted(self, _conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("SELECT"):
            self.writes += 1

    def close(self) -> None:
        event.remove(self.conn, "before_cursor_execute", self._counted)

    @contextmanager
    def unit(self, *, reads_only_kept: bool = False) -> Iterator[Session]:
        """A unit's session: flushed at the end; on an exception, the batch is `spoiled` when the
        unit wrote or the database failed (see the class).

        `reads_only_kept`: the unit changes none of what units keep for each other (`KEPT`, in its
        session's info: rows read once in this transaction, see services.series), so it may use
        and add to it. Any other unit may change anything: what was kept is forgotten, before it
        and after it."""
        if self.spoiled:
            raise Spoiled("a unit of the batch failed after it wrote: no other unit may run in it")
        if not reads_only_kept:
            self._kept.clear()
        wrote = self.writes
        session = self._sessions()
        try:
            if reads_only_kept:
                session.info[KEPT] = self._kept
            yield session
            session.flush()  # not commit: the batch commits (and a unit's commit would not)
        except BaseException as exc:
            if self.writes != wrote or isinstance(exc, SQLAlchemyError):
                self.spoiled = True
            raise
        finally:
            session.close()
            if not reads_only_kept:
                self._kept.clear()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads within the batch."""
        with self._sessions() as session:
            yield session
