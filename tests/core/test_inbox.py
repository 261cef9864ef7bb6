"""The inbox: a request acked by a channel is carried out once, even when its worker dies before or
after the command committed, when two workers race for it, or when its work fails."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.db import Database, make_engine
from bot.dispatch import Abandon
from bot.entry.composition import App
from bot.error_policy import ErrorPolicy, HealthBoard
from bot.inbox import KEEP, LEASE, MAX_ATTEMPTS, Executed, Inbox, Item, RequestFailed
from bot.inbox_spool import Spool
from bot.inbox_worker import InboxWorker
from bot.migrate import upgrade
from bot.models import AuditEvent, InboundRequest, Subscription
from bot.parser import parse
from tests.conftest import person

KARI = person("kari@kommune.no")


def subscribe_work(app: App, calls: list[str]) -> dict[str, Any]:
    """Work that carries out `meld på` for the address in the payload, as the Slack work does."""

    def work(payload: dict[str, Any], executed: Executed) -> None:
        calls.append(payload["email"])
        reply = app.dispatcher.execute(person(payload["email"]), parse("meld på"), within=executed)
        assert reply.key in ("subscribed", "already_subscribed"), reply

    return {"test.subscribe": work}


def state_of(app: App, key: str) -> InboundRequest:
    with app.db.read() as s:
        row = s.scalars(select(InboundRequest).where(InboundRequest.key == key)).one()
        s.expunge(row)
        return row


def subscriptions(app: App) -> int:
    with app.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Subscription)) or 0)


def audit_actions(app: App) -> list[str]:
    with app.db.read() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_a_request_is_carried_out_once_and_its_payload_forgotten(app: App) -> None:
    calls: list[str] = []
    worker = InboxWorker(app.inbox, subscribe_work(app, calls))
    assert app.inbox.accept("test", "subscribe", "k1", {"email": "kari@kommune.no"})
    assert not app.inbox.accept("test", "subscribe", "k1", {"email": "kari@kommune.no"})  # a replay
    assert app.inbox.waiting() == 1
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    row = state_of(app, "k1")
    assert (row.state, row.payload, row.attempts) == ("done", None, 1)
    assert calls == ["kari@kommune.no"]
    assert audit_actions(app) == ["subscription.created", "person.language_learned"]


def test_arrivals_nudge_whoever_listens(app: App) -> None:
    nudged: list[str] = []
    app.inbox.on_arrival(lambda: nudged.append("nudge"))
    app.inbox.accept("test", "subscribe", "k1", {"email": "kari@kommune.no"})
    app.inbox.accept("test", "subscribe", "k1", {"email": "kari@kommune.no"})  # not recorded: no nudge
    app.inbox.record("test", "form", "k2")  # done on the spot: nothing to nudge about
    assert nudged == ["nudge"]


def test_a_worker_that_died_before_the_command_committed_is_replaced(app: App, clock: ManualClock) -> None:
    calls: list[str] = []
    app.inbox.accept("test", "subscribe", "k1", {"email": "kari@kommune.no"})
    [taken] = app.inbox.claim("dead-worker")  # ...and the worker dies here
    assert state_of(app, "k1").state == "working"
    worker = InboxWorker(app.inbox, subscribe_work(app, calls))
    assert worker.run_once() == 0  # its lease still holds
    clock.advance(LEASE + timedelta(seconds=1))
    assert worker.run_once() == 1
    assert calls == ["kari@kommune.no"] and subscriptions(app) == 1
    assert state_of(app, "k1").attempts == taken.attempts + 1


def test_a_worker_that_died_after_the_command_committed_is_not_repeated(app: App, clock: ManualClock) -> None:
    calls: list[str] = []
    app.inbox.accept("test", "subscribe", "k1", {"email": "kari@kommune.no"})
    [item] = app.inbox.claim("dying-worker")
    work = subscribe_work(app, calls)["test.subscribe"]
    work(item.payload, app.inbox.executed_marker(item))  # committed; the worker dies before `done`
    assert state_of(app, "k1").state == "executed"
    clock.advance(LEASE + timedelta(seconds=1))
    worker = InboxWorker(app.inbox, subscribe_work(app, calls))
    assert worker.run_once() == 0
    assert state_of(app, "k1").state == "done"
    assert calls == ["kari@kommune.no"]
    assert audit_actions(app) == ["subscription.created", "person.language_learned"]


def test_a_claim_marks_the_requests_carried_out_since_the_last_one_done(app: App, clock: ManualClock) -> None:
    calls: list[str] = []
    work = subscribe_work(app, calls)["test.subscribe"]
    for n in range(3):
        app.inbox.accept("test", "subscribe", f"k{n}", {"email": f"p{n}@kommune.no"})
    first = app.inbox.claim("w", 2)  # a batch: the two oldest, under one claim
    assert [item.payload["email"] for item in first] == ["p0@kommune.no", "p1@kommune.no"]
    for item in first:
        work(item.payload, app.inbox.executed_marker(item))
    assert [state_of(app, k).state for k in ("k0", "k1", "k2")] == ["executed", "executed", "new"]
    [last] = app.inbox.claim("w", 2, finished=first)  # one transaction: the first done, the next taken
    assert [state_of(app, k).state for k in ("k0", "k1", "k2")] == ["done", "done", "working"]
    assert state_of(app, "k0").payload is None
    # A worker that dies before its next claim leaves `executed`: closed by recovery, never repeated.
    work(last.payload, app.inbox.executed_marker(last))
    clock.advance(LEASE + timedelta(seconds=1))
    assert InboxWorker(app.inbox, subscribe_work(app, calls)).run_once() == 0
    assert state_of(app, "k2").state == "done" and subscriptions(app) == 3 and len(calls) == 3


def test_the_worker_threads_carry_out_a_burst_once_each(app: App) -> None:
    calls: list[str] = []
    emails = [f"p{n}@kommune.no" for n in range(40)]
    worker = InboxWorker(app.inbox, subscribe_work(app, calls)).start()
    try:
        for n, email in enumerate(emails):
            app.inbox.accept("test", "subscribe", f"k{n}", {"email": email})
        deadline = threading.Event()
        for _ in range(200):
            if all(state_of(app, f"k{n}").state == "done" for n in range(len(emails))):
                break
            deadline.wait(0.05)
    finally:
        worker.stop()
    assert sorted(calls) == sorted(emails) and subscriptions(app) == len(emails)
    assert {state_of(app, f"k{n}").state for n in range(len(emails))} == {"done"}


def test_a_worker_whose_claim_was_taken_over_rolls_its_command_back(app: App, clock: ManualClock) -> None:
    app.inbox.accept("test", "subscribe", "k1", {"email": "ola@kommune.no"})
    [slow] = app.inbox.claim("slow-worker")
    clock.advance(LEASE + timedelta(seconds=1))
    app.inbox.recover()
    [fast] = app.inbox.claim("fast-worker")
    # The slow worker wakes up and carries out its stale copy: the database refuses it, and the
    # command goes back with it.
    with pytest.raises(Abandon):
        app.dispatcher.execute(
            person("ola@kommune.no"), parse("meld på"), within=app.inbox.executed_marker(slow)
        )
    assert subscriptions(app) == 0 and audit_actions(app) == []
    calls: list[str] = []
    InboxWorker(app.inbox, subscribe_work(app, calls)).handle(fast)
    assert calls == ["ola@kommune.no"] and subscriptions(app) == 1
    assert state_of(app, "k1").state == "done"
    # And through the worker: a stale item is dropped without an answer.
    InboxWorker(app.inbox, subscribe_work(app, calls)).handle(slow)
    assert audit_actions(app) == ["subscription.created", "person.language_learned"]


def test_work_that_fails_is_retried_then_given_up(
    app: App, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    def failing(payload: dict[str, Any], executed: Executed) -> None:
        attempts.append(1)
        raise RuntimeError("the platform is down")

    worker = InboxWorker(app.inbox, {"test.fail": failing})
    app.inbox.accept("test", "fail", "k1", {})
    for _ in range(MAX_ATTEMPTS):
        worker.run_once()
        clock.advance(timedelta(seconds=10))
    row = state_of(app, "k1")
    assert len(attempts) == MAX_ATTEMPTS
    assert row.state == "failed" and row.payload is None
    assert row.error is not None and "the platform is down" in row.error
    assert "failed" in caplog.text


def test_work_that_fails_after_its_command_committed_is_never_carried_out_again(
    app: App, clock: ManualClock
) -> None:
    """The command committed (executed mark and change in one transaction), then its answer could not
    be made: a retry would carry the command out again, so the request is finished, not retried."""
    calls: list[str] = []
    subscribe = subscribe_work(app, calls)["test.subscribe"]

    def answer_fails(payload: dict[str, Any], executed: Executed) -> None:
        subscribe(payload, executed)
        raise OverflowError("the reply could not be rendered")

    apologies: list[object] = []
    worker = InboxWorker(
        app.inbox, {"test.subscribe": answer_fails}, apologise=lambda *t: apologies.append(t)
    )
    app.inbox.accept("test", "subscribe", "k1", {"email": "kari@kommune.no"})
    for _ in range(MAX_ATTEMPTS + 1):
        worker.run_once()
        clock.advance(timedelta(seconds=10))
    assert calls == ["kari@kommune.no"]  # carried out once, never again
    row = state_of(app, "k1")
    assert row.state == "failed" and row.attempts == 1
    assert row.error is not None and "carried out" in row.error
    assert apologies == []  # «something went wrong, nothing changed» would be untrue


def test_a_request_without_work_fails_with_a_reason(app: App) -> None:
    app.inbox.accept("test", "unknown", "k1", {"x": 1})
    InboxWorker(app.inbox, {}).run_once()
    row = state_of(app, "k1")
    assert row.state == "failed" and row.error == "no work registered for test.unknown"


def test_finished_requests_are_forgotten_once_no_platform_replays_them(app: App, clock: ManualClock) -> None:
    app.inbox.record("test", "form", "old")
    clock.advance(KEEP - timedelta(hours=1))
    app.inbox.record("test", "form", "recent")
    clock.advance(timedelta(hours=2))
    assert app.inbox.prune() == 1
    assert app.inbox.record("test", "form", "old")  # its key is free again
    assert not app.inbox.record("test", "form", "recent")


def test_racing_worker_threads_carry_out_each_request_once(app: App) -> None:
    handled: Counter[str] = Counter()
    lock = threading.Lock()

    def count(payload: dict[str, Any], executed: Executed) -> None:
        with lock:
            handled[payload["n"]] += 1

    inbox = Inbox(app.db, app.clock, app.errors)
    for n in range(120):
        inbox.accept("test", "count", f"k{n}", {"n": str(n)})
    workers = [InboxWorker(inbox, {"test.count": count}, threads=2) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        deadline = threading.Event()
        for _ in range(200):
            if sum(handled.values()) >= 120 and inbox.waiting() == 0:
                break
            deadline.wait(0.05)
    finally:
        for worker in workers:
            worker.stop()
    assert sorted(handled) == sorted(str(n) for n in range(120))
    assert set(handled.values()) == {1}


def test_claimed_items_carry_their_payload(app: App) -> None:
    app.inbox.accept("test", "x", "k1", {"text": "meld på", "user": "U1"})
    [item] = app.inbox.claim("w")
    assert item == Item(item.id, "test", "x", {"text": "meld på", "user": "U1"}, 1, item.claim)
    assert item.claim.startswith("w/")
    assert item.work_name == "test.x"


def test_submitted_requests_are_written_in_groups_once_each(app: App) -> None:
    nudged: list[str] = []
    app.inbox.on_arrival(lambda: nudged.append("nudge"))
    for key in ("a", "b", "a", "c"):
        app.inbox.submit("test", "x", key, {"key": key})
    app.inbox.close()  # writes what is queued
    with app.db.read() as s:
        keys = sorted(s.scalars(select(InboundRequest.key)))
    assert keys == ["a", "b", "c"]
    assert nudged  # at least once, at most once per group
    app.inbox.submit("test", "x", "a", {"key": "a"})  # a replay, after the fact
    app.inbox.close()
    assert app.inbox.waiting() == 3


def test_the_user_is_told_when_the_database_cannot_take_a_request(tmp_path: Path, clock: ManualClock) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'bot.db'}")  # its folder does not exist
    inbox = Inbox(Database(engine), clock, ErrorPolicy(HealthBoard(clock)))
    told: list[str] = []
    inbox.when_unrecorded("test", lambda kind, payload: told.append(f"{kind}:{payload['n']}"))
    inbox.submit("test", "x", "k1", {"n": 1})
    inbox.submit("test", "y", "k2", {"n": 2})
    inbox.submit("other", "x", "k3", {"n": 3})  # a channel that tells nobody
    inbox.close()
    assert sorted(told) == ["x:1", "y:2"]


def test_an_acked_request_waits_on_disk_while_the_database_is_away_then_is_carried_out_once(
    tmp_path: Path, clock: ManualClock
) -> None:
    folder = tmp_path / "db"  # missing: the database cannot be reached
    url = f"sqlite:///{folder / 'bot.db'}"
    spool = Spool(tmp_path / "spool")
    inbox = Inbox(Database(make_engine(url)), clock, ErrorPolicy(HealthBoard(clock)), spool=spool)
    told: list[str] = []
    inbox.when_unrecorded("test", lambda _kind, payload: told.append(payload["n"]))
    for key in ("k1", "k2"):
        inbox.submit("test", "x", key, {"n": key})
    inbox.close()
    assert told == []  # acked, and not dropped: kept
    [kept] = spool.waiting()
    assert oct(kept.stat().st_mode & 0o777) == "0o600"

    folder.mkdir()  # the database is back
    upgrade(url)
    carried_out: list[str] = []
    worker = InboxWorker(inbox, {"test.x": lambda payload, executed: carried_out.append(payload["n"])})
    worker.run_once()
    worker.run_once()
    assert sorted(carried_out) == ["k1", "k2"] and spool.waiting() == []


def test_requests_kept_by_a_process_that_died_after_writing_them_are_not_repeated(
    app: App, tmp_path: Path
) -> None:
    """Killed between writing its kept requests and removing the file: the next drain finds their
    keys already recorded and adds nothing."""
    spool = Spool(tmp_path / "spool")
    spool.keep([{"channel": "test", "kind": "x", "key": "k1", "payload": {}}])
    app.inbox.accept("test", "x", "k1", {})  # written before the crash
    assert app.inbox.writer.spool is not None
    app.inbox.writer.spool = spool
    assert app.inbox.writer.write_kept() == 1 and spool.waiting() == []
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(InboundRequest)) == 1


def test_without_a_usable_spool_the_user_is_told(tmp_path: Path, clock: ManualClock) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'bot.db'}")
    (tmp_path / "spool").write_text("a file where the folder should be")
    inbox = Inbox(Database(engine), clock, ErrorPolicy(HealthBoard(clock)), spool=Spool(tmp_path / "spool"))
    told: list[str] = []
    inbox.when_unrecorded("test", lambda _kind, _payload: told.append("k1"))
    inbox.submit("test", "x", "k1", {})
    inbox.close()
    assert told == ["k1"]


def test_a_request_given_up_is_apologised_for_once_by_its_channel(app: App, clock: ManualClock) -> None:
    apologies: list[tuple[str, str, dict[str, Any]]] = []

    def failing(payload: dict[str, Any], executed: Executed) -> None:
        raise RuntimeError("a bug")

    worker = InboxWorker(app.inbox, {"test.fail": failing}, apologise=lambda *told: apologies.append(told))
    app.inbox.accept("test", "fail", "k1", {"response_url": "https://hooks.example/1"})
    for _ in range(MAX_ATTEMPTS + 2):
        worker.run_once()
        clock.advance(timedelta(seconds=10))
    assert apologies == [("test", "fail", {"response_url": "https://hooks.example/1"})]
    assert "inbound test.fail" in app.health.recent()  # the error policy marked it


def test_a_request_carried_out_now_goes_through_the_table_once(app: App) -> None:
    def work(payload: dict[str, Any], executed: Executed) -> str:
        reply = app.dispatcher.execute(person(payload["email"]), parse("meld på"), within=executed)
        return reply.key

    assert app.inbox.run_now("web", "command", {"email": "kari@kommune.no"}, work) == "subscribed"
    with app.db.read() as s:
        [row] = s.scalars(select(InboundRequest))
        assert (row.channel, row.kind, row.state, row.attempts) == ("web", "command", "done", 1)
        assert row.payload is None  # nothing kept of what was asked
    assert subscriptions(app) == 1


def test_a_request_carried_out_now_that_fails_is_reported_and_recorded_failed(app: App) -> None:
    def broken(payload: dict[str, Any], executed: Executed) -> str:
        raise KeyError("missing")

    with pytest.raises(RequestFailed):
        app.inbox.run_now("console", "line", {"line": "hjelp"}, broken)
    with app.db.read() as s:
        [row] = s.scalars(select(InboundRequest))
    assert row.state == "failed" and row.error == "KeyError: 'missing'"
    assert list(app.health.recent()) == ["inbound console.line"]
