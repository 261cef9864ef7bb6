"""A channel that cannot send is held back for every process: one probe at a time, at a growing
interval, its rows never failed; a send that gets through lifts the hold; a restart probes at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.delivery.channels import CREDENTIALS, TARGET_CLOSED, ChannelUnavailable, OutgoingMessage
from bot.delivery.worker import Worker
from bot.entry.composition import App
from bot.models import Delivery, Fanout
from tests.conftest import NOW, ORGANISER, person
from tests.fakes.recording_sender import RecordingSender

Say = Callable[..., str]


class SharedClock(ManualClock):
    """A manual clock that several sending threads may read and sleep on at once."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return super().now()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            super().sleep(seconds)


@pytest.fixture
def clock() -> ManualClock:
    return SharedClock(NOW)


@dataclass
class Troubled(RecordingSender):
    """Refuses every send while `down` (the whole channel), or those to `closed` (one target)."""

    down: bool = False
    closed: str | None = None
    tries: int = 0

    def send(self, message: OutgoingMessage) -> str | None:
        self.tries += 1
        if self.down:
            raise ChannelUnavailable(CREDENTIALS, "token_revoked")
        if message.target == self.closed:
            raise ChannelUnavailable(TARGET_CLOSED, "is_archived", target=message.target)
        return super().send(message)


@dataclass
class Together(Troubled):
    """The first four sends meet at Slack's door together, as sends in flight do."""

    door: threading.Barrier = field(default_factory=lambda: threading.Barrier(4, timeout=10))
    arrived: int = 0

    def send(self, message: OutgoingMessage) -> str | None:
        with self._lock:
            self.arrived += 1
            first = self.arrived <= self.door.parties
        if first:
            self.door.wait()
        return super().send(message)


def _wait_until(done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for the worker threads (real time) until `done()`, looking every 20 ms."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the worker threads did not get there"
        threading.Event().wait(0.02)


def _subscribers(say: Say, count: int) -> None:
    for i in range(count):
        say(person(f"p{i}@kommune.no"), "meld på")


def _states(app: App, channel: str) -> dict[tuple[str, int], int]:
    with app.db.read() as s:
        rows = s.execute(select(Delivery.state, Delivery.attempts).where(Delivery.channel == channel))
        found: dict[tuple[str, int], int] = {}
        for state, attempts in rows:
            found[(state, attempts)] = found.get((state, attempts), 0) + 1
        return found


def test_two_processes_probe_a_held_channel_once_per_interval_growing_to_ten_minutes(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = Troubled(clock, channel="fake", down=True)
    app.delivery.add_sender(sender)
    other = Worker(sender, app.db, app.delivery.outbox, app.delivery.outages, clock, app.errors)
    _subscribers(say, 12)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Holdt tilbake")
    app.delivery.run_until_idle()
    other.drain()
    assert sender.tries == 1 and _states(app, "fake") == {("pending", 0): 13}

    gaps = []
    for _ in range(7):
        [hold] = app.delivery.paused()
        gaps.append(hold.probe_at - clock.now())
        clock.set(hold.probe_at)
        before = sender.tries
        app.delivery.workers["fake"].drain()
        other.drain()
        assert sender.tries == before + 1  # one probe, whichever process takes it
    assert [int(gap.total_seconds()) for gap in gaps] == [60, 120, 240, 480, 600, 600, 600]
    assert _states(app, "fake") == {("pending", 0): 13}

    sender.down = False
    [hold] = app.delivery.paused()
    clock.set(hold.probe_at)
    other.drain()
    assert app.delivery.paused() == []
    assert _states(app, "fake") == {("sent", 1): 13} and sender.duplicates() == []


def test_a_held_target_keeps_back_only_its_own_rows(app: App, clock: ManualClock, say: Say) -> None:
    sender = Troubled(clock, channel="fake", closed="post")
    app.delivery.add_sender(sender)
    _subscribers(say, 4)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Ett mål")
    app.delivery.run_until_idle()
    assert len(sender.sent) == 4 and sender.to("post") == []
    [hold] = app.delivery.paused()
    assert (hold.target, hold.reason) == ("post", "is_archived")

    sender.closed = None
    clock.sleep(60)
    app.delivery.run_until_idle()
    assert len(sender.to("post")) == 1 and app.delivery.paused() == []


def test_the_notice_goes_once_a_day_and_a_restart_probes_at_once(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = Troubled(clock, channel="fake", down=True)
    mail = RecordingSender(clock, channel="mail", posts=False)
    app.delivery.add_sender(sender)
    app.delivery.add_sender(mail)
    say(ORGANISER, "gi arrangør p0@kommune.no")
    _subscribers(say, 2)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Nede")
    app.delivery.run_until_idle()
    assert [x.kind for x in mail.sent if x.kind == "channel_down"] == ["channel_down"]

    sender.down = False
    clock.sleep(60)
    app.delivery.run_until_idle()
    assert app.delivery.paused() == [] and len(sender.sent) == 3

    sender.down = True  # down again the same day: held again, but the organisers were told today
    say(ORGANISER, "ny økt 2026-03-10 09:00 Nede igjen")
    app.delivery.run_until_idle()
    [hold] = app.delivery.paused()
    assert hold.began_at == clock.now()
    with app.db.read() as s:
        notices = s.scalars(select(Fanout.key).where(Fanout.kind == "channel_down")).all()
    assert len(notices) == 1 and notices[0].startswith("channel_down:fake:*:2026-03-04:")

    clock.sleep(10)
    sender.down = False  # new credentials, and the bot restarted
    app.delivery.start()  # the worker threads: the probe is due at once, not 50 s from now
    try:
        _wait_until(lambda: len(sender.sent) == 6)
    finally:
        app.delivery.stop()
    assert app.delivery.paused() == [] and sender.duplicates() == []


def test_sends_under_way_when_the_channel_went_down_do_not_stretch_the_first_probe(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = Together(clock, channel="fake", down=True)
    app.delivery.add_sender(sender, in_flight=4)
    _subscribers(say, 12)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Fire om gangen")
    app.delivery.run_until_idle()
    assert sender.arrived == 4  # four were under way at once; the rest were not tried
    [hold] = app.delivery.paused()
    assert hold.probe_at - hold.began_at == timedelta(seconds=60)
    assert _states(app, "fake") == {("pending", 0): 13}
