"""The engine's SQLite settings (bot/db.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from bot.db import SQLITE_CACHE_KIB, make_engine


def test_every_sqlite_connection_keeps_a_small_page_cache(tmp_path: Path) -> None:
    # Each pooled connection caches pages of its own; at SQLite's default (2 MiB each) a process
    # with a few connections that read a large table holds megabytes it gains little from.
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    sizes: list[int] = []

    def read() -> None:
        with engine.connect() as conn:
            sizes.append(conn.execute(text("PRAGMA cache_size")).scalar_one())

    with engine.connect() as held:  # a second connection, opened in another thread
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
        sizes.append(held.execute(text("PRAGMA cache_size")).scalar_one())
    engine.dispose()
    assert sizes == [-SQLITE_CACHE_KIB, -SQLITE_CACHE_KIB]
    assert SQLITE_CACHE_KIB * 1024 < 2 * 2**20  # below SQLite's default
