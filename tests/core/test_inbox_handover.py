"""The front hands acked requests to the worker process over a pipe; the worker records them and
confirms each group; what it never confirmed, the front records itself. Here both ends run in this
process on real pipes, each with an inbox of its own on the same database, as after the fork."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.db import Database, make_engine
from bot.entry.composition import App
from bot.error_policy import ErrorPolicy, HealthBoard
from bot.inbox import Inbox
from bot.inbox_handover import ReceiverEnds, decode, pipes
from bot.inbox_writer import Arrival
from bot.models import InboundRequest
from tests.slack.fakes.slack_bot import eventually


def recorded(app: App) -> list[str]:
    """The recorded keys, in the order they were recorded."""
    with app.db.read() as s:
        return list(s.scalars(select(InboundRequest.key).order_by(InboundRequest.id)))


def inbox_of(app: App, clock: ManualClock) -> tuple[Inbox, list[str]]:
    """An inbox on the app's database, and the keys its own writer recorded."""
    inbox = Inbox(app.db, clock, app.errors)
    written: list[str] = []
    inbox.writer.after_each_group(lambda group: written.extend(a.key for a in group))
    return inbox, written


def test_handed_over_requests_are_recorded_by_the_worker_in_order_and_confirmed(
    app: App, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    front, by_front = inbox_of(app, clock)
    worker = Inbox(app.db, clock, app.errors)
    to_worker, from_front = pipes()
    front.hand_over(to_worker)
    receiver = worker.receive(from_front)

    keys = [f"k{n:03d}" for n in range(120)]
    for key in keys:
        front.submit("test", "x", key, {"n": key, "text": "meld på ✓\nlinje to"})
    eventually(lambda: len(recorded(app)) == len(keys))
    front.finish_handover()  # as the front's runtime does when it stops
    assert receiver.join(10)
    worker.close()  # writes what is queued, confirms it, closes its end
    with caplog.at_level(logging.WARNING, logger="bot.inbox_handover"):
        front.close()

    assert recorded(app) == keys  # each once, in the order acked
    assert by_front == []  # all confirmed: the front recorded none itself
    assert "not recorded by the worker process" not in caplog.text
    with app.db.read() as s:
        payload = s.scalar(select(InboundRequest.payload).where(InboundRequest.key == "k007"))
    assert payload == {"n": "k007", "text": "meld på ✓\nlinje to"}


def test_the_front_records_what_a_worker_that_died_never_confirmed(
    app: App, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    front, by_front = inbox_of(app, clock)
    to_worker, from_front = pipes()
    front.hand_over(to_worker)

    # A worker that confirms the first 5 requests it reads (and records them), then dies.
    worker = Inbox(app.db, clock, app.errors)
    read: list[int] = []

    def dying_worker(ends: ReceiverEnds) -> None:
        pending = b""
        while len(read) < 8:
            pending += os.read(ends.requests, 1 << 16)
            *lines, pending = pending.split(b"\n")
            read.extend(decode(line)[0] for line in lines)
        worker.accept("test", "x", "k00", {})  # it recorded the first ones...
        worker.accept("test", "x", "k01", {})
        os.write(ends.confirmations, (2).to_bytes(8, "big"))  # ...and confirmed them; then dies
        os.close(ends.requests)
        os.close(ends.confirmations)

    thread = threading.Thread(target=dying_worker, args=(from_front,))
    thread.start()
    keys = [f"k{n:02d}" for n in range(30)]
    for key in keys:
        front.submit("test", "x", key, {"n": key})
    thread.join(10)
    front.finish_handover()
    with caplog.at_level(logging.WARNING, logger="bot.inbox_handover"):
        front.close()

    assert sorted(recorded(app)) == keys  # none lost, none twice
    assert sorted(by_front) == keys[2:]  # the front recorded all it had no confirmation for
    assert "not recorded by the worker process" in caplog.text


def test_the_worker_tells_the_user_when_it_cannot_record_a_request(
    app: App, tmp_path: Path, clock: ManualClock
) -> None:
    front, by_front = inbox_of(app, clock)
    told_by_front: list[str] = []
    front.when_unrecorded("test", lambda _kind, payload: told_by_front.append(payload["n"]))
    missing = make_engine(f"sqlite:///{tmp_path / 'missing' / 'bot.db'}")  # the worker's database is away
    worker = Inbox(Database(missing), clock, ErrorPolicy(HealthBoard(clock)))
    told: list[str] = []
    worker.when_unrecorded("test", lambda kind, payload: told.append(f"{kind}:{payload['n']}"))
    to_worker, from_front = pipes()
    front.hand_over(to_worker)
    receiver = worker.receive(from_front)

    front.submit("test", "x", "k1", {"n": "1"})
    front.submit("test", "y", "k2", {"n": "2"})
    front.finish_handover()
    assert receiver.join(10)
    worker.close()
    front.close()

    assert told == ["x:1", "y:2"]  # by the worker, once each
    assert told_by_front == [] and by_front == []  # it confirmed them: told, so not taken back


def test_a_request_that_is_not_json_is_left_to_the_fronts_own_writer(app: App, clock: ManualClock) -> None:
    front, by_front = inbox_of(app, clock)
    told: list[str] = []
    front.when_unrecorded("test", lambda _kind, _payload: told.append("told"))
    worker = Inbox(app.db, clock, app.errors)
    to_worker, from_front = pipes()
    front.hand_over(to_worker)
    receiver = worker.receive(from_front)

    front.submit("test", "x", "bad", {"n": {1, 2}})  # a set: no JSON for it
    front.submit("test", "x", "good", {"n": "ok"})
    front.finish_handover()
    assert receiver.join(10)
    worker.close()
    front.close()

    assert by_front == ["bad"] and told == ["told"]  # the front's writer reports it, as before
    assert recorded(app) == ["good"]


def test_an_arrival_keeps_its_number_only_on_the_way(app: App, clock: ManualClock) -> None:
    """What the front records itself after a take-back carries no handover number."""
    seen: list[int] = []
    front = Inbox(app.db, clock, app.errors)
    front.writer.after_each_group(lambda group: seen.extend(a.seq for a in group))
    to_worker, from_front = pipes()
    for fd in (from_front.requests, from_front.confirmations):
        os.close(fd)  # the worker is gone before anything was handed over
    front.hand_over(to_worker)
    front.submit("test", "x", "k1", {})
    front.finish_handover()
    front.close()
    assert seen == [0] and recorded(app) == ["k1"]
    assert Arrival("test", "x", "k", {}).seq == 0
