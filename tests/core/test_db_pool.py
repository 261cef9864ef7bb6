"""Pooled PostgreSQL connections: pinged before use only after sitting idle (bot/db.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from bot.db import make_engine
from tests.conftest import TEST_PG, pg_url

pytestmark = pytest.mark.skipif(not TEST_PG, reason="needs TEST_DATABASE_URL (PostgreSQL)")


def _backend_pid(engine: Engine) -> int:
    with engine.begin() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")) or 0)


def _counting_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(1)
        return ping(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_in_steady_use_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_url(), idle_ping_seconds=60.0)
    try:
        pings = _counting_pings(engine, monkeypatch)
        pids = {_backend_pid(engine) for _ in range(5)}
        assert len(pids) == 1  # the same pooled connection each time
        assert pings == []
    finally:
        engine.dispose()


def test_an_idle_connection_the_server_cut_is_replaced_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_url(), idle_ping_seconds=0.0)  # every checkout counts as after idling
    admin = make_engine(pg_url())
    try:
        pings = _counting_pings(engine, monkeypatch)
        first = _backend_pid(engine)
        with admin.begin() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}) is True
        second = _backend_pid(engine)  # no error: the dead connection was pinged and replaced
        assert second != first
        assert len(pings) >= 1
    finally:
        engine.dispose()
        admin.dispose()
