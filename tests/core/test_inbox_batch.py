"""The inbox worker's batches: the commands of one claim share a transaction, without a savepoint
each, their requests marked executed together at its end. One refused, failing or taken-over command
rolls back alone (the others carried out again when it had written); answers go out only after the
commit; a worker that dies after it never carries the commands out again; a batch that fails as a
whole is carried out one by one."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select, text, update

from bot import commands as c
from bot.clock import ManualClock
from bot.db import Batch, Spoiled
from bot.dispatch import HANDLERS, Result
from bot.entry.composition import App
from bot.inbox import LEASE, RETRY_AFTER, Batchable, Effect, Executed, Item, Step
from bot.inbox_worker import CLAIM_BATCH, InboxWorker
from bot.models import AuditEvent, InboundRequest, Person, Series, Session, Subscription
from bot.parser import parse
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.people import get_or_create_person
from tests.conftest import ORGANISER, person


class Crash(BaseException):
    """The worker process dies (nothing in it catches this)."""


class Subscribing:
    """Batchable work that carries out the payload's command (`meld på` by default) for its
    address and records each answer with whether its command had committed by then."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.answers: list[tuple[str, str, bool]] = []  # email, reply key, committed when answered
        self.carried_out: list[str] = []
        self.series_names: dict[str, str] = {}  # email: the series its reply names
        self.next_titles: dict[str, str | None] = {}  # email: the next session its reply names
        self.explode: set[str] = set()  # addresses whose next attempt fails after it wrote
        self.batch_breaks = False  # the next batch's database goes away mid-way
        self.crash_on_answer = False

    def work(self) -> dict[str, Batchable]:
        return {"test.subscribe": Batchable(self.prepare, otherwise=self.never)}

    def never(self, payload: dict[str, Any], executed: Executed) -> None:
        raise AssertionError("every request of this kind is batchable")

    def prepare(self, payload: dict[str, Any]) -> Step:
        email = payload["email"]
        actor = person(email)
        command = parse(payload.get("line", "meld på"))

        def step(batch: Batch | None, executed: Executed) -> Effect:
            if batch is not None and self.batch_breaks:
                self.batch_breaks = False
                with batch.unit() as s:
                    s.execute(text("SELECT * FROM a_table_that_went_away"))
            if email in self.explode:
                self.explode.discard(email)
                with self.app.db.transaction() if batch is None else batch.unit() as s:
                    s.add(Person(email=f"ghost-{email}", created_at=self.app.clock.now()))
                    s.flush()
                    raise RuntimeError("the work failed half-way")
            if "rename" in payload or "retitle" in payload:  # first a unit that may change anything
                with self.app.db.transaction() if batch is None else batch.unit() as s:
                    if "rename" in payload:
                        s.execute(update(Series).values(name=payload["rename"]))
                    else:
                        s.execute(update(Session).values(title=payload["retitle"]))
            reply = self.app.dispatcher.execute(actor, command, within=executed, batch=batch)
            self.carried_out.append(email)
            if reply.key == "subscribed":
                self.series_names[email] = reply.data["series"].name
                self.next_titles[email] = reply.data["next"].title if reply.data["next"] else None

            def answer() -> None:
                if self.crash_on_answer:
                    raise Crash
                self.answers.append((email, reply.key, subscribed(self.app, email)))

            return answer

        return step


def subscribed(app: App, email: str) -> bool:
    """Whether `email` has an active subscription, as another connection sees it (committed)."""
    with app.db.read() as s:
        return bool(
            s.scalar(
                select(func.count())
                .select_from(Subscription)
                .join(Person, Person.id == Subscription.person_id)
                .where(Person.email == email, Subscription.active.is_(True))
            )
        )


def states(app: App) -> dict[str, str]:
    with app.db.read() as s:
        return {row.key: row.state for row in s.execute(select(InboundRequest.key, InboundRequest.state))}


def audit_count(app: App, action: str) -> int:
    with app.db.read() as s:
        return int(s.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


def accept(app: App, *emails: str, line: str = "meld på", **more: str) -> None:
    for email in emails:
        app.inbox.accept("test", "subscribe", email, {"email": email, "line": line, **more})


def reads_during(app: App, table: str) -> list[int]:
    """A counter of the statements that read `table` on the bot's engine from now on."""
    counted = [0]

    def read(_conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and re.search(rf"FROM {table}\b", statement):
            counted[0] += 1

    event.listen(app.db.engine, "before_cursor_execute", read)
    return counted


def commits_during(app: App) -> list[int]:
    """A counter of the commits made on the bot's engine from now on."""
    counted = [0]

    def commit(_conn: Connection) -> None:
        counted[0] += 1

    event.listen(app.db.engine, "commit", commit)
    return counted


def statements_during(app: App) -> list[str]:
    """The statements run on the bot's engine from now on (upper case)."""
    seen: list[str] = []

    def run(_conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.lstrip().upper())

    event.listen(app.db.engine, "before_cursor_execute", run)
    return seen


def people_named(app: App, email: str) -> int:
    with app.db.read() as s:
        return int(s.scalar(select(func.count()).where(Person.email == email)) or 0)


EMAILS = [f"p{n}@kommune.no" for n in range(5)]


@pytest.fixture
def work(app: App) -> Subscribing:
    return Subscribing(app)


@pytest.fixture
def worker(app: App, work: Subscribing) -> InboxWorker:
    return InboxWorker(app.inbox, work.work())


def claim(app: App, worker: InboxWorker) -> list[Item]:
    """What waits, claimed by `worker` as one batch."""
    return app.inbox.claim(worker.name, CLAIM_BATCH)


def refused_before_it_wrote(batch: Batch) -> None:
    with batch.unit() as s:
        s.scalar(select(Person.id))
        raise UserError("no_series")


def failed_after_it_wrote(app: App, batch: Batch) -> None:
    with batch.unit() as s:
        s.add(Person(email="ghost@kommune.no", created_at=app.clock.now()))
        s.flush()
        raise RuntimeError("the work failed half-way")


def a_batch_with(app: App, failing: Callable[[Batch], None]) -> None:
    """A unit that adds a person, then `failing` (its exception caught)."""
    with app.db.batch() as batch:
        with batch.unit() as s:
            s.add(Person(email="kept@kommune.no", created_at=app.clock.now()))
        with contextlib.suppress(UserError, RuntimeError):
            failing(batch)


def test_a_unit_that_failed_before_it_wrote_leaves_the_batch_to_commit(app: App) -> None:
    a_batch_with(app, refused_before_it_wrote)
    assert people_named(app, "kept@kommune.no") == 1


def test_a_batch_whose_unit_failed_after_it_wrote_commits_nothing(app: App) -> None:
    with pytest.raises(Spoiled):
        a_batch_with(app, lambda batch: failed_after_it_wrote(app, batch))
    assert people_named(app, "kept@kommune.no") == people_named(app, "ghost@kommune.no") == 0


def test_a_batch_marks_its_requests_executed_in_one_statement_without_savepoints(
    app: App, work: Subscribing, worker: InboxWorker
) -> None:
    accept(app, *EMAILS)
    items = claim(app, worker)
    statements = statements_during(app)
    worker.carry_out(items)
    assert len([s for s in statements if s.startswith("UPDATE INBOUND_REQUEST")]) == 1
    assert not [s for s in statements if "SAVEPOINT" in s]
    assert set(states(app).values()) == {"executed"}
    assert work.answers == [(email, "subscribed", True) for email in EMAILS]


def test_a_claims_commands_commit_together_and_are_answered_after_the_commit(
    app: App, work: Subscribing, worker: InboxWorker
) -> None:
    accept(app, *EMAILS)
    items = claim(app, worker)
    commits = commits_during(app)
    finished = worker.carry_out(items)
    assert commits[0] == 1  # one transaction for the five commands
    assert finished == items
    assert work.answers == [(email, "subscribed", True) for email in EMAILS]
    assert set(states(app).values()) == {"executed"}
    app.inbox.done_all(finished)
    assert set(states(app).values()) == {"done"}
    assert audit_count(app, "subscription.created") == 5  # each command its own audit row


def test_a_refused_command_rolls_back_alone_and_gets_its_refusal(
    app: App, work: Subscribing, worker: InboxWorker
) -> None:
    accept(app, *EMAILS[:2])
    accept(app, "nosy@kommune.no", line="meld på ingen-slik-serie")
    accept(app, *EMAILS[2:])
    assert worker.run_once() == 6
    assert ("nosy@kommune.no", "unknown_series", False) in work.answers
    assert sorted(e for e, key, committed in work.answers if key == "subscribed" and committed) == EMAILS
    assert set(states(app).values()) == {"done"}
    with app.db.read() as s:  # the refused command left nothing behind, not even its person
        assert s.scalar(select(Person).where(Person.email == "nosy@kommune.no")) is None


def test_a_command_refused_after_it_wrote_rolls_back_alone(
    app: App, monkeypatch: pytest.MonkeyPatch, work: Subscribing, worker: InboxWorker
) -> None:
    def writes_then_refuses(ctx: Ctx, _cmd: c.Archive) -> Result:
        get_or_create_person(ctx.s, ctx.actor, ctx.now)
        raise UserError("no_series")

    monkeypatch.setitem(HANDLERS, c.Archive, writes_then_refuses)
    accept(app, *EMAILS[:2])
    accept(app, "nosy@kommune.no", line="arkiv")
    accept(app, *EMAILS[2:])
    assert worker.run_once() == 6
    assert ("nosy@kommune.no", "no_series", False) in work.answers
    assert sorted(e for e, key, committed in work.answers if key == "subscribed" and committed) == EMAILS
    assert set(states(app).values()) == {"done"}
    assert people_named(app, "nosy@kommune.no") == 0  # what it wrote before its refusal: rolled back
    assert audit_count(app, "subscription.created") == 5  # the others' commands committed once each


def test_a_command_that_fails_rolls_back_alone_and_is_tried_again(
    app: App, clock: ManualClock, work: Subscribing, worker: InboxWorker
) -> None:
    accept(app, *EMAILS)
    work.explode.add(EMAILS[1])
    assert worker.run_once() == 5
    assert [email for email, *_ in work.answers] == [e for e in EMAILS if e != EMAILS[1]]
    assert states(app)[EMAILS[1]] == "new"  # to be tried again shortly
    with app.db.read() as s:  # what it did before it failed was rolled back with it, alone
        assert s.scalar(select(func.count()).where(Person.email.like("ghost-%"))) == 0
        assert s.scalar(select(InboundRequest.error).where(InboundRequest.key == EMAILS[1])) is not None
    clock.advance(RETRY_AFTER + timedelta(seconds=1))
    assert worker.run_once() == 1
    assert work.answers[-1] == (EMAILS[1], "subscribed", True)
    assert set(states(app).values()) == {"done"}
    assert audit_count(app, "subscription.created") == 5


def test_a_command_whose_claim_was_taken_over_rolls_back_alone_unanswered(
    app: App, work: Subscribing, worker: InboxWorker
) -> None:
    accept(app, *EMAILS[:3])
    items = claim(app, worker)
    with app.db.transaction() as s:  # its lease ran out and another worker claimed it meanwhile
        s.execute(update(InboundRequest).where(InboundRequest.key == EMAILS[1]).values(claimed_by="other/1"))
    finished = worker.carry_out(items)
    assert [item.payload["email"] for item in finished] == [EMAILS[0], EMAILS[2]]
    assert [email for email, *_ in work.answers] == [EMAILS[0], EMAILS[2]]
    assert not subscribed(app, EMAILS[1])
    assert states(app)[EMAILS[1]] == "working"  # the other worker's, untouched
    assert audit_count(app, "subscription.created") == 2


def test_a_worker_that_dies_after_the_commit_never_carries_the_commands_out_again(
    app: App, clock: ManualClock, work: Subscribing, worker: InboxWorker
) -> None:
    work.crash_on_answer = True
    accept(app, *EMAILS[:3])
    dying = InboxWorker(app.inbox, work.work())
    items = claim(app, dying)
    with pytest.raises(Crash):  # the process dies before any answer went out
        dying.carry_out(items)
    assert set(states(app).values()) == {"executed"}
    clock.advance(LEASE + timedelta(seconds=1))
    work.crash_on_answer = False
    assert worker.run_once() == 0
    assert set(states(app).values()) == {"done"}
    assert work.carried_out == EMAILS[:3] and work.answers == []
    assert audit_count(app, "subscription.created") == 3


def test_a_batch_that_fails_as_a_whole_is_carried_out_one_by_one(
    app: App, work: Subscribing, worker: InboxWorker
) -> None:
    work.batch_breaks = True
    accept(app, *EMAILS)
    assert worker.run_once() == 5
    assert work.answers == [(email, "subscribed", True) for email in EMAILS]  # each answered once
    assert set(states(app).values()) == {"done"}
    assert audit_count(app, "subscription.created") == 5


def test_the_commands_of_a_batch_that_change_no_series_read_the_series_once(
    app: App, work: Subscribing, worker: InboxWorker
) -> None:
    accept(app, *EMAILS[:2])
    accept(app, "nosy@kommune.no", line="dm på")  # refused after it read the series: rolled back
    accept(app, *EMAILS[2:])
    items = claim(app, worker)
    reads = reads_during(app, "series")
    worker.carry_out(items)
    assert reads[0] == 1
    assert ("nosy@kommune.no", "dm_needs_subscription", False) in work.answers
    assert sorted(e for e, key, committed in work.answers if key == "subscribed" and committed) == EMAILS
    with app.db.read() as s:
        name = s.scalar(select(Series.name))
    assert set(work.series_names.values()) == {name}


def test_a_series_changed_within_the_batch_is_read_again_by_the_commands_after_it(
    app: App, work: Subscribing, worker: InboxWorker
) -> None:
    with app.db.read() as s:
        before = s.scalar(select(Series.name))
    accept(app, *EMAILS[:2])
    accept(app, EMAILS[2], rename="Grønn fredag")
    accept(app, *EMAILS[3:])
    items = claim(app, worker)
    reads = reads_during(app, "series")
    worker.carry_out(items)
    assert reads[0] == 2
    assert [work.series_names[e] for e in EMAILS] == [before, before] + ["Grønn fredag"] * 3
    assert sorted(e for e, key, committed in work.answers if key == "subscribed" and committed) == EMAILS


def test_the_next_session_is_read_once_per_batch_until_a_unit_changes_it(
    app: App, work: Subscribing, worker: InboxWorker
) -> None:
    say = app.dispatcher.execute
    say(ORGANISER, parse("ny økt 2026-03-09 09:00 Målt"))
    accept(app, *EMAILS[:2])
    accept(app, EMAILS[2], retitle="Omdøpt")
    accept(app, *EMAILS[3:])
    items = claim(app, worker)
    reads = reads_during(app, "session")
    worker.carry_out(items)
    assert reads[0] == 2
    assert [work.next_titles[e] for e in EMAILS] == ["Målt", "Målt"] + ["Omdøpt"] * 3
    assert sorted(e for e, key, committed in work.answers if key == "subscribed" and committed) == EMAILS
