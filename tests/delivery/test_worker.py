"""The worker: its claim on a batch renewed once a good part of the lease has passed and never let
expire; several sends in flight at once, each row still sent once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from bot.clock import ManualClock, SystemClock
from bot.delivery import outbox as outbox_module
from bot.delivery import pacing
from bot.delivery.channels import OutgoingMessage, Pace, RetryLater
from bot.delivery.outbox import SentMark
from bot.entry.composition import App, build
from bot.entry.settings import BotSettings
from bot.models import AuditEvent, Delivery
from bot.parser import parse
from tests.conftest import NOW, ORGANISER, person
from tests.delivery.helpers import delivery_states, simulate
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
class Watching(RecordingSender):
    """Notes the leases of the rows still waiting at every send."""

    app: App | None = None
    leases: list[tuple[datetime, set[datetime]]] = field(default_factory=list)

    def send(self, message: OutgoingMessage) -> str | None:
        assert self.app is not None
        now = self.clock.now()
        with self.app.db.read() as s:
            claimed = set(s.scalars(select(Delivery.lease_until).where(Delivery.state == "claimed")))
        self.leases.append((now, {at for at in claimed if at is not None}))
        return super().send(message)


def _fanout(app: App, say: Say, people: int, interval: timedelta, in_flight: int = 1) -> Watching:
    sender = Watching(clock=app.clock, interval=interval, app=app)  # type: ignore[arg-type]
    app.delivery.add_sender(sender, batch=people + 1, in_flight=in_flight)
    for i in range(people):
        say(person(f"p{i}@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-06 09:00 Lang kø")
    app.delivery.plan()
    return sender


def test_the_claim_is_renewed_after_a_third_of_the_lease_not_at_every_send(
    app: App, clock: ManualClock, say: Say
) -> None:
    lease = app.delivery.outbox.lease
    assert lease == timedelta(seconds=30)
    sender = _fanout(app, say, 9, interval=timedelta(seconds=4))  # 10 sends over 36 s
    app.delivery.workers["fake"].drain()
    assert len(sender.sent) == 10 and sender.duplicates() == []
    waiting = [(at, leases) for at, leases in sender.leases if leases]
    assert len(waiting) == 9  # at the last send nothing is left waiting
    # Renewed every third of the lease while waiting (at 10, 20 and 30 s): three renewals in 36 s,
    # where renewing at every send would make nine.
    assert len({lease_until for _, leases in waiting for lease_until in leases}) == 4
    assert min(min(leases) - at for at, leases in waiting) >= lease * 2 / 3


def test_a_wait_longer_than_the_lease_keeps_the_claim(
    app: App, clock: ManualClock, say: Say, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = _fanout(app, say, 3, interval=timedelta(seconds=45))  # waits of 45 s, a 30 s lease
    recovered: list[tuple[int, int]] = []
    sleep = clock.sleep

    def sleep_while_another_process_looks(seconds: float) -> None:
        sleep(seconds)
        recovered.append(app.delivery.outbox.recover(clock.now()))

    monkeypatch.setattr(clock, "sleep", sleep_while_another_process_looks)
    app.delivery.workers["fake"].drain(limit=20)  # rows taken back would be claimed again and again
    assert len(recovered) > 3 and set(recovered) == {(0, 0)}  # nothing ever looked abandoned
    assert len(sender.sent) == 4 and sender.duplicates() == []
    assert delivery_states(app) == {"sent": 4}


@dataclass
class Meeting(RecordingSender):
    """The first `parties` sends wait for each other: they meet only if that many are in flight at once."""

    parties: int = 3
    met: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._barrier = threading.Barrier(self.parties)
        self._arrived = 0

    def send(self, message: OutgoingMessage) -> str | None:
        with self._lock:
            self._arrived += 1
            waits = self._arrived <= self.parties
        if waits:
            self._barrier.wait(timeout=30)  # broken (an error, so a retry) when they never meet
            self.met = True
        return super().send(message)


def test_several_sends_in_flight_still_send_each_row_once(app: App, clock: ManualClock, say: Say) -> None:
    sender = Meeting(clock, fault_rate=0.2, seed=5)
    app.delivery.add_sender(sender, in_flight=3)
    for i in range(60):
        say(person(f"p{i}@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-13 09:00 Parallelt")
    simulate(app, clock, datetime(2026, 3, 13, 9, 0, tzinfo=UTC))
    assert sender.met
    assert sender.faults["429"] > 2 and sender.faults["5xx"] > 2 and sender.faults["timeout"] > 2
    assert sender.duplicates() == []
    assert len(sender.sent) == 3 * 61  # invitation and two reminders, to the post and 60 people
    assert delivery_states(app) == {"sent": 3 * 61}


@pytest.mark.parametrize("in_flight", [1, 3])
def test_a_worker_waiting_for_a_distant_slot_stops_at_once_and_hands_the_row_back(
    app: App, clock: ManualClock, say: Say, in_flight: int
) -> None:
    # The second send waits 10 minutes (with sends in flight, the third 20: booked, not begun).
    sender = _fanout(app, say, 1, interval=timedelta(minutes=10), in_flight=in_flight)
    worker = app.delivery.workers["fake"]
    asleep = threading.Event()
    sleep = clock.sleep

    def sleep_in_real_time(seconds: float) -> None:  # the wait takes time, as with a real clock
        asleep.set()
        worker.stopping.wait(seconds)
        sleep(seconds)

    clock.sleep = sleep_in_real_time  # type: ignore[method-assign]
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    assert asleep.wait(10), "the worker never waited for its slot"
    worker.stopping.set()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the stop waited for the slot"
    assert len(sender.sent) == 1
    assert delivery_states(app) == {"sent": 1, "pending": 2}  # the rest back for the others, unsent


@dataclass
class Overlapping(RecordingSender):
    """The first send finishes only once a third has started: a row of the next batch."""

    overlapped: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._third_started = threading.Event()
        self._started = 0

    def send(self, message: OutgoingMessage) -> str | None:
        with self._lock:
            self._started += 1
            number = self._started
        if number == 3:
            self._third_started.set()
        if number == 1:
            self.overlapped = self._third_started.wait(timeout=10)
        return super().send(message)


def test_the_next_batch_is_claimed_while_the_last_rows_are_still_under_way(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = Overlapping(clock)
    app.delivery.add_sender(sender, batch=2, in_flight=2)
    for i in range(5):
        say(person(f"p{i}@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-06 09:00 Uten pause")
    app.delivery.plan()
    assert app.delivery.workers["fake"].drain() == 6  # the post and five people
    assert sender.overlapped  # batch two began before batch one had drained
    assert len(sender.sent) == 6 and sender.duplicates() == []
    assert delivery_states(app) == {"sent": 6}


@dataclass
class Slow(RecordingSender):
    """Sends only once `go` is set, as a platform that answers after a long while."""

    go: threading.Event = field(default_factory=threading.Event)
    begun: threading.Event = field(default_factory=threading.Event)

    def send(self, message: OutgoingMessage) -> str | None:
        self.begun.set()
        assert self.go.wait(30)
        return super().send(message)


def test_a_send_slower_than_the_lease_keeps_its_row_from_being_taken_back(settings: BotSettings) -> None:
    """With a lease shorter than the platform's answer, another worker's recovery would take the row
    back while it is being sent and send it again: the worker renews the lease of what it has in
    flight, so the row stays with it and goes out once."""
    real = SystemClock()
    fast = replace(settings, limits=replace(settings.limits, delivery_lease_seconds=1))
    bot = build(fast, clock=real, migrate=False)
    try:
        sender = Slow(real)
        bot.delivery.add_sender(sender)
        soon = (real.now() + timedelta(days=2)).strftime("%Y-%m-%d")  # its invitation is due at once
        bot.dispatcher.execute(ORGANISER, parse(f"ny økt {soon} 09:00 Treg plattform"))
        bot.delivery.plan()
        worker = bot.delivery.workers["fake"]
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        assert sender.begun.wait(10)
        with bot.db.read() as s:
            first_lease = s.scalar(select(Delivery.lease_until).where(Delivery.state == "sending"))
        assert first_lease is not None
        past = threading.Event()
        while real.now() < first_lease.replace(tzinfo=UTC) + timedelta(seconds=0.5):
            past.wait(0.05)  # until the first lease has run out
        assert bot.delivery.outbox.recover(real.now()) == (0, 0)  # nothing to take back: renewed
        sender.go.set()
        worker.stopping.set()
        worker.wake.set()
        thread.join(10)
        assert len(sender.sent) == 1 and delivery_states(bot) == {"sent": 1}
    finally:
        bot.close()


@pytest.mark.parametrize("in_flight", [1, 3])
def test_a_row_whose_start_failed_is_handed_back_not_kept_under_lease_forever(
    app: App, clock: ManualClock, say: Say, monkeypatch: pytest.MonkeyPatch, in_flight: int
) -> None:
    """A database cut while a row's slot is booked raised out of the send: the row stayed in the
    worker's hand, its lease renewed by the keeper for as long as the process lived, never sent."""
    sender = _fanout(app, say, 1, interval=timedelta(0), in_flight=in_flight)
    worker = app.delivery.workers["fake"]
    reserve_each = pacing.reserve_each
    cuts = iter([OperationalError("SELECT … FOR UPDATE", {}, Exception("terminating connection"))])

    def cut_once(*args: object, **kwargs: object) -> list[datetime]:
        cut = next(cuts, None)
        if cut is not None:
            raise cut
        return reserve_each(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pacing, "reserve_each", cut_once)
    with pytest.raises(OperationalError):
        worker.run_once()
    assert worker._held == [] and worker._sending == set()  # nothing left for the keeper to renew
    assert "claimed" not in delivery_states(app)  # the row that failed went back at once
    worker.drain()
    assert delivery_states(app) == {"sent": 2}
    assert len(sender.sent) == 2


@dataclass
class BulkRecordingSender(RecordingSender):
    """A platform that takes one message for many people in one call (as Teams' activity feed)."""

    bulk_most: int = 4
    calls: list[list[str]] = field(default_factory=list)
    refuse_next: int = 0  # the next calls answer 429

    def bulk_key(self, message: OutgoingMessage) -> str | None:
        return None if message.target == "post" else f"{message.kind}:{message.language}"

    def bulk_pacing(self) -> list[Pace]:
        return [Pace(f"{self.channel}:bulk", timedelta(milliseconds=500))]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.refuse_next:
            self.refuse_next -= 1
            raise RetryLater(10.0)
        self.calls.append([m.target for m in messages])
        for message in messages:
            self._record(message)


def test_a_bulk_sender_sends_each_row_once_in_calls_of_its_size_through_a_throttle(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = BulkRecordingSender(clock, refuse_next=1)
    app.delivery.add_sender(sender)
    for i in range(10):
        say(person(f"p{i}@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-09 09:00 Mange på en gang")
    simulate(app, clock, NOW + timedelta(minutes=5))
    # The first call was throttled: its rows came back and went out later, each once.
    assert sender.refuse_next == 0 and max(len(call) for call in sender.calls) == 4
    assert sender.duplicates() == [] and len(sender.sent) == 11
    with app.db.read() as s:
        rows = s.execute(select(Delivery.state, Delivery.attempts).where(Delivery.channel == "fake")).all()
    assert {state for state, _ in rows} == {"sent"} and len(rows) == 11  # the post went alone


def _commits(app: App) -> list[int]:
    """A counter of the database's commits from now on."""
    count = [0]

    def committed(_conn: object) -> None:
        count[0] += 1

    event.listen(app.db.engine, "commit", committed)
    return count


def test_rows_sent_are_recorded_together_not_in_a_commit_each(app: App, clock: ManualClock, say: Say) -> None:
    sender = _fanout(app, say, 29, interval=timedelta(0))  # the post and 29 people
    commits = _commits(app)
    app.delivery.workers["fake"].drain()
    assert len(sender.sent) == 30 and sender.duplicates() == []
    assert delivery_states(app) == {"sent": 30}
    with app.db.read() as s:
        audited = s.scalars(select(AuditEvent.subject_id).where(AuditEvent.action == "delivery.sent"))
        assert sorted(audited) == sorted(s.scalars(select(Delivery.id)))  # an audit row each
    # A row's start is a commit; its recording rides along with a later one (once it was two).
    assert commits[0] < 30 * 3 // 2


@pytest.fixture
def recording_cut_once(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database goes away at the first recording of rows sent (only then)."""
    outbox = app.delivery.outbox
    sent_in = outbox.sent_in
    cuts = iter([OperationalError("UPDATE delivery", {}, Exception("terminating connection"))])

    def cut_once(s: object, marks: Sequence[SentMark]) -> None:
        if marks and (cut := next(cuts, None)) is not None:
            raise cut
        sent_in(s, marks)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "sent_in", cut_once)


@pytest.mark.usefixtures("recording_cut_once")
def test_a_row_sent_and_not_yet_recorded_stays_in_flight_and_is_never_sent_twice(
    app: App, clock: ManualClock, say: Say
) -> None:
    """The database goes away after a send, before its recording: the row stays in flight under
    the worker's lease and is recorded with a later transaction; should the process die first, it
    comes back in doubt and the platform's word keeps it from going out twice."""
    sender = _fanout(app, say, 2, interval=timedelta(0))
    worker = app.delivery.workers["fake"]
    outbox = app.delivery.outbox
    with pytest.raises(OperationalError):
        worker.run_once()
    assert len(sender.sent) == 3 and delivery_states(app) == {"sending": 3}
    assert worker._sending == {mark for mark in worker._unrecorded} and len(worker._sending) == 3
    # The process dies here: its lease runs out and another worker takes the rows back in doubt.
    clock.advance(outbox.lease + timedelta(seconds=1))
    assert outbox.recover(clock.now()) == (0, 3)
    other = build(app.settings, clock=clock, migrate=False)
    try:
        other.delivery.add_sender(sender)
        other.delivery.workers["fake"].drain()
    finally:
        other.close()
    assert len(sender.sent) == 3 and sender.duplicates() == []  # found on the platform: not resent
    assert delivery_states(app) == {"sent": 3}


@pytest.mark.usefixtures("recording_cut_once")
def test_a_failed_recording_is_tried_again_with_the_next_transaction(app: App, say: Say) -> None:
    sender = _fanout(app, say, 2, interval=timedelta(0))
    worker = app.delivery.workers["fake"]
    with pytest.raises(OperationalError):
        worker.run_once()
    worker.drain()
    assert delivery_states(app) == {"sent": 3} and worker._sending == set() and not worker._unrecorded
    assert len(sender.sent) == 3 and sender.duplicates() == []


def _four_in_flight(app: App, clock: ManualClock, say: Say, people: int, title: str) -> RecordingSender:
    """A sender with four sends in flight, and a session's invitation planned to its post and `people`."""
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender, in_flight=4)
    for i in range(people):
        say(person(f"p{i}@kommune.no"), "meld på")
    say(ORGANISER, f"ny økt 2026-03-06 09:00 {title}")
    app.delivery.plan()
    return sender


def test_sends_in_flight_are_begun_several_to_a_transaction(app: App, clock: ManualClock, say: Say) -> None:
    sender = _four_in_flight(app, clock, say, 39, "Mange om gangen")
    commits = _commits(app)
    app.delivery.workers["fake"].drain()
    assert len(sender.sent) == 40 and sender.duplicates() == []
    assert delivery_states(app) == {"sent": 40}
    # Five claims (the last finds nothing) and the rows begun two to four at a time, at worst six
    # transactions for a claim of ten: 21-24 commits in practice, 48 with a transaction for each row.
    assert commits[0] <= 5 + 4 * 6 + 1


def test_a_row_whose_message_cannot_be_built_fails_alone_and_the_rest_go_out(
    app: App, clock: ManualClock, say: Say, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows begun together share a transaction: one whose data makes no message must not take the
    others down with it (its claim would come first again and again, and nothing would go out)."""
    build_message = outbox_module._message

    def refuse_person_2(*args: Any) -> OutgoingMessage:
        if args[1].target == "person:2":
            raise ValueError("no duration")
        return build_message(*args)

    monkeypatch.setattr(outbox_module, "_message", refuse_person_2)
    sender = _four_in_flight(app, clock, say, 5, "Én feiler")
    app.delivery.workers["fake"].drain()
    assert sorted(sent.target for sent in sender.sent) == [
        "person:1",
        "person:3",
        "person:4",
        "person:5",
        "post",
    ]
    assert delivery_states(app) == {"sent": 5, "failed": 1}
    with app.db.read() as s:
        failed = s.execute(select(Delivery.id, Delivery.last_error).where(Delivery.state == "failed")).one()
        audited = s.scalars(select(AuditEvent.subject_id).where(AuditEvent.action == "delivery.failed")).all()
    assert failed.last_error == "cannot build the message: ValueError: no duration"
    assert audited == [failed.id]
