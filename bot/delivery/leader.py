"""One planner among several processes: the holder of a PostgreSQL advisory lock leads.

The lock lives on a dedicated connection; if the leader dies, the server drops the connection and
the lock with it, and the next process to ask takes over. SQLite supports one process, which leads.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# One lock per schema, so two installations sharing a PostgreSQL database do not block each other.
TRY_LOCK = "SELECT pg_try_advisory_lock(hashtext('baerekraft-bot leader/' || current_schema()))"
UNLOCK = "SELECT pg_advisory_unlock(hashtext('baerekraft-bot leader/' || current_schema()))"


class Leadership:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        with self._lock:
            if self._conn is not None and self._alive():
                return True
            self._drop()
            try:
                conn = self.engine.connect()
            except SQLAlchemyError as exc:
                log.warning("leader election: database unavailable (%s)", type(exc).__name__)
                return False
            try:
                got = conn.execute(text(TRY_LOCK)).scalar()
                conn.commit()
            except SQLAlchemyError as exc:
                log.warning("leader election: the lock query failed (%s)", type(exc).__name__)
                conn.close()
                return False
            if got:
                self._conn = conn
                log.info("this process now leads the schedule")
                return True
            conn.close()
            return False

    def resign(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text(UNLOCK))
                    self._conn.commit()
                except SQLAlchemyError:
                    log.warning("leader election: unlock failed; the lock goes with the connection")
            self._drop()

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except SQLAlchemyError:
            log.warning("leader election: lost the connection holding the lock")
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except SQLAlchemyError:
                log.debug("closing a broken leader connection failed", exc_info=True)
            self._conn = None
