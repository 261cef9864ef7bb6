"""The inbox writer: a request after a quiet spell is written at once; during a burst the writes are
spaced, so a group holds what arrived meanwhile; closing writes what waits without waiting it out."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.clock import ManualClock
from bot.db import RUN_SIZES, in_runs
from bot.entry.composition import App
from bot.inbox_writer import Arrival, InboxWriter
from bot.models import InboundRequest
from tests.slack.fakes.slack_bot import eventually


def recorded_keys(app: App) -> list[str]:
    with app.db.read() as s:
        return sorted(s.scalars(select(InboundRequest.key)))


def test_a_burst_is_written_as_one_group_after_the_spacing(app: App, clock: ManualClock) -> None:
    groups: list[str] = []
    writer = InboxWriter(app.db, clock, lambda: groups.append("group"), app.errors, spacing=60.0)
    writer.submit(Arrival("test", "x", "a", {"n": 1}))
    eventually(lambda: groups)  # the first after a quiet spell: at once, not 60 s later
    assert recorded_keys(app) == ["a"]

    for key in ("b", "c", "d"):  # a burst: held for the next group
        writer.submit(Arrival("test", "x", key, {"n": 2}))
    began = time.monotonic()
    writer.close()  # writes them now, without waiting out the spacing
    assert time.monotonic() - began < 10
    assert recorded_keys(app) == ["a", "b", "c", "d"]
    assert groups == ["group", "group"]


def test_a_writer_closed_and_used_again_writes_again(app: App, clock: ManualClock) -> None:
    groups: list[str] = []
    writer = InboxWriter(app.db, clock, lambda: groups.append("group"), app.errors, spacing=60.0)
    writer.submit(Arrival("test", "x", "a", {}))
    writer.close()
    writer.submit(Arrival("test", "x", "b", {}))  # a new thread, not the one told to close
    eventually(lambda: len(groups) == 2)
    writer.close()
    assert recorded_keys(app) == ["a", "b"]


def test_groups_of_any_size_are_written_in_few_statement_shapes(app: App, clock: ManualClock) -> None:
    """A multi-row INSERT is a statement of its own for each number of rows, kept prepared by the
    database connection: the groups' rows go in runs of a few sizes, whatever size the groups had."""
    inserts: set[str] = set()

    @event.listens_for(app.db.engine, "before_cursor_execute")
    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO inbound_request"):
            inserts.add(statement)

    expected: list[str] = []
    for size in range(1, 80):
        writer = InboxWriter(app.db, clock, lambda: None, app.errors, spacing=60.0)
        keys = [f"g{size}-{n}" for n in range(size + 1)]
        for key in keys:  # the first alone, at once; the other `size` held until closed: one group
            writer.submit(Arrival("test", "x", key, {}))
        writer.submit(Arrival("test", "x", keys[0], {}))  # seen before, in the same group
        writer.close()
        expected += keys
    event.remove(app.db.engine, "before_cursor_execute", seen)

    assert recorded_keys(app) == sorted(expected)
    assert 1 <= len(inserts) <= len(RUN_SIZES)


def test_keys_recorded_before_are_told_apart_in_every_run(
    app: App, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A group of 100 goes in runs of 64, 32 and 4: each run's new keys count as recorded, and only
    the keys stored before are "seen before"."""
    before = [f"k{n:03d}" for n in range(0, 100, 3)]  # spread over all three runs
    first = InboxWriter(app.db, clock, lambda: None, app.errors, spacing=60.0)
    for key in before:
        first.submit(Arrival("test", "x", key, {}))
    first.close()
    groups: list[str] = []
    writer = InboxWriter(app.db, clock, lambda: groups.append("recorded"), app.errors, spacing=60.0)
    with caplog.at_level(logging.INFO, logger="bot.inbox_writer"):
        for n in range(100):
            writer.submit(Arrival("test", "x", f"k{n:03d}", {}))
        writer.close()
    seen_before = sorted(r.getMessage().split()[2] for r in caplog.records if "seen before" in r.getMessage())
    assert seen_before == before
    assert groups  # something new was recorded, and said so
    assert recorded_keys(app) == [f"k{n:03d}" for n in range(100)]


def test_runs_cover_every_row_once_in_order() -> None:
    for n in range(0, 300):
        rows = list(range(n))
        runs = list(in_runs(rows))
        assert [row for run in runs for row in run] == rows
        assert all(len(run) in RUN_SIZES for run in runs)
        assert len(runs) <= n // RUN_SIZES[0] + len(RUN_SIZES)
