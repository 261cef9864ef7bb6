"""List scale: subscribe and unsubscribe through the Dispatcher (parse → one transaction → reply,
rendered) with 100,000 subscribers already in the list, on SQLite and on PostgreSQL; and
`baerekraft-bot subscribers export` of those 100,000 rows."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import bot_environment, in_process_bot, percentile
from bench.population import add_subscribers, settle
from bot.commands import Actor
from bot.parser import parse

# People who subscribe, then the same people unsubscribe. With 200 the p99 was the second-slowest
# command, so one slow moment of the database server decided it (31.9 ms with a p50 of 2.6 ms in a
# run whose empty-list baseline also reached 13.3 ms; 4.6 ms in the next); with 1,000 it is the
# tenth.
OPERATIONS = 1000


@dataclass
class ListScale:
    backend: str
    list_size: int
    subscribe_ms: list[float]
    unsubscribe_ms: list[float]
    export_seconds: float
    exported_rows: int
    fill_seconds: float

    def summary(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "list_size": self.list_size,
            "operations": len(self.subscribe_ms),
            "subscribe_p50_ms": round(percentile(self.subscribe_ms, 50), 2),
            "subscribe_p99_ms": round(percentile(self.subscribe_ms, 99), 2),
            "unsubscribe_p50_ms": round(percentile(self.unsubscribe_ms, 50), 2),
            "unsubscribe_p99_ms": round(percentile(self.unsubscribe_ms, 99), 2),
            "export_seconds": round(self.export_seconds, 2),
            "exported_rows": self.exported_rows,
            "fill_seconds": round(self.fill_seconds, 1),
        }


def run_list_scale(
    folder: Path, backend: str, db_url: str, size: int = 100_000, *, export: bool = True
) -> ListScale:
    began = time.perf_counter()
    if size:
        add_subscribers(db_url, size, email_domain="list.example", channel="import")
    fill = time.perf_counter() - began
    settle(db_url)
    app = in_process_bot(db_url)
    try:
        people = [
            Actor("slack", f"UX{n:06d}", email=f"new{n}@kommune.example", name=f"Ny {n}", language="nb")
            for n in range(OPERATIONS)
        ]

        def timed(actor: Actor, line: str) -> float:
            start = time.perf_counter()
            app.renderer.reply(app.dispatcher.execute(actor, parse(line)))
            return (time.perf_counter() - start) * 1000

        for actor in people[:5]:  # warm-up: caches, compiled statements; not counted
            timed(actor, "status")
        subscribe = [timed(actor, "meld på") for actor in people]
        unsubscribe = [timed(actor, "meld av") for actor in people]
    finally:
        app.close()
    export_seconds, rows = _export(folder, db_url, backend) if export else (0.0, 0)
    return ListScale(backend, size, subscribe, unsubscribe, export_seconds, rows, fill)


def _export(folder: Path, db_url: str, backend: str) -> tuple[float, int]:
    """`baerekraft-bot subscribers export > file`, as an operator runs it (process start included)."""
    target = folder / f"export-{backend}.csv"
    env = bot_environment(db_url, 0)
    began = time.perf_counter()
    with open(target, "wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "subscribers", "export"],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=600,
            check=False,
        )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"export failed: {done.stderr.decode(errors='replace')[-1500:]}")
    with open(target, "rb") as written:
        lines = sum(1 for _ in written)
    return wall, lines - 1  # without the header
