"""CPU per command in the dispatcher: new people subscribe, then the same people unsubscribe, each
through `Dispatcher.execute` with the inbox's executed marker as `within` (as the worker runs it:
with `--batch`, a claim's commands in one transaction, their requests marked together at its end),
a session planned (the reply names it), and the reply rendered in Slack's mrkdwn. Reports CPU
milliseconds per command (process time, not wall: the machine may be shared), on SQLite and, when
it answers, PostgreSQL.

    python -m bench.dispatch_cpu [--n 500] [--backend sqlite,postgresql] [--batch 8] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bench.common import fresh_sqlite, in_process_bot, pg_reachable, pg_schema
from bench.population import plan_sessions
from bot.commands import Actor
from bot.entry.composition import App
from bot.inbox import WORKING, ExecutedMarks, Item
from bot.models import InboundRequest
from bot.parser import parse

CLAIM = "bench-claim"


def _requests(app: App, n: int, offset: int) -> list[Item]:
    """`n` inbound requests a worker holds, to be marked executed by the commands' transactions."""
    now = datetime.now(UTC)
    rows = [
        {
            "key": f"bench:{offset + i}",
            "channel": "slack",
            "kind": "command",
            "payload": {},
            "state": WORKING,
            "received_at": now,
            "claimed_by": CLAIM,
            "attempts": 1,
        }
        for i in range(n)
    ]
    with app.db.transaction() as s:
        s.execute(insert(InboundRequest), rows)
        ids = list(s.scalars(select(InboundRequest.id).where(InboundRequest.key.like("bench:%"))))
    ids = sorted(ids)[offset : offset + n]
    return [Item(i, "slack", "command", {}, 1, CLAIM) for i in ids]


def _run(app: App, actors: list[Actor], line: str, items: list[Item], batch: int) -> tuple[float, float]:
    """CPU ms per command for execute (`batch` commands to a transaction, as the inbox worker
    carries out a claim's, when more than one) and for rendering the reply."""
    command = parse(line)
    execute = render = 0.0
    pairs = list(zip(actors, items, strict=True))
    for start in range(0, len(pairs), batch):
        began = time.process_time()
        if batch > 1:  # as the inbox worker: the requests marked executed together at the end
            marks = ExecutedMarks()
            with app.db.batch() as shared:
                replies = [
                    app.dispatcher.execute(actor, command, within=marks.marker(item), batch=shared)
                    for actor, item in pairs[start : start + batch]
                ]
                assert not marks.write(shared)
        else:
            replies = [
                app.dispatcher.execute(actor, command, within=app.inbox.executed_marker(item))
                for actor, item in pairs[start : start + batch]
            ]
        mid = time.process_time()
        for reply in replies:
            app.renderer.reply(reply, "mrkdwn")
        render += time.process_time() - mid
        execute += mid - began
    n = len(actors)
    return execute * 1000 / n, render * 1000 / n


def measure(db_url: str, n: int, profile: cProfile.Profile | None, batch: int = 1) -> dict[str, float]:
    plan_sessions(db_url, [datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)])  # as `answers`
    app = in_process_bot(db_url)
    try:
        warm = [
            Actor("slack", f"UW{i:05d}", email=f"w{i}@kommune.example", name="W", language="nb")
            for i in range(20)
        ]
        people = [
            Actor("slack", f"UX{i:06d}", email=f"new{i}@kommune.example", name=f"Ny {i}", language="nb")
            for i in range(n)
        ]
        items = _requests(app, 2 * len(warm) + 2 * n, 0)
        _run(app, warm, "meld på", items[: len(warm)], batch)  # warm-up: caches, compiled statements
        _run(app, warm, "meld av", items[len(warm) : 2 * len(warm)], batch)
        rest = items[2 * len(warm) :]
        if profile is not None:
            profile.enable()
        sub = _run(app, people, "meld på", rest[:n], batch)
        unsub = _run(app, people, "meld av", rest[n:], batch)
        if profile is not None:
            profile.disable()
    finally:
        app.close()
    return {
        "subscribe_execute_ms": sub[0],
        "subscribe_render_ms": sub[1],
        "unsubscribe_execute_ms": unsub[0],
        "unsubscribe_render_ms": unsub[1],
    }


@contextmanager
def _database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield fresh_sqlite(Path(folder), "cpu.db")
        return
    with pg_schema() as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1, help="commands to a transaction (the inbox's claim)")
    parser.add_argument("--profile", help="write a cProfile of the measured commands here")
    args = parser.parse_args()
    profile = cProfile.Profile(time.process_time) if args.profile else None
    for backend in args.backend.split(","):
        if backend == "postgresql" and (problem := pg_reachable()) is not None:
            print(f"{backend}: not measured: {problem}")
            continue
        for _ in range(args.repeat):
            with _database(backend) as url:
                figures = measure(url, args.n, profile, args.batch)
            shown = "  ".join(f"{key} {value:.3f}" for key, value in figures.items())
            print(f"{backend:10} n={args.n}  {shown}", flush=True)
    if profile is not None:
        profile.dump_stats(args.profile)


run: Callable[[], None] = main

if __name__ == "__main__":
    main()
