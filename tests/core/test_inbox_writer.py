"""The inbox writer: a request after a quiet spell is written at once; during a burst the writes are
spaced, so a group holds what arrived meanwhile; closing writes what waits without waiting it out."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.clock import ManualClock
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
