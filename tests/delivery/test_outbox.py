"""The outbox's steps: what a claim hands the worker, guarded state changes, and their audit rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot.clock import ManualClock
from bot.delivery.channels import OutgoingMessage, PermanentError
from bot.entry.composition import App
from bot.models import AuditEvent, Delivery
from tests.conftest import ORGANISER, person
from tests.fakes.recording_sender import RecordingSender

Say = Callable[..., str]


class RefusingOne(RecordingSender):
    """Refuses the message to one target, as a platform refuses an unknown user."""

    refused = "person:3"

    def send(self, message: OutgoingMessage) -> str | None:
        if message.target == self.refused:
            raise PermanentError("unknown user")
        return super().send(message)


def test_each_last_state_change_has_the_engines_audit_row(app: App, clock: ManualClock, say: Say) -> None:
    app.delivery.add_sender(RefusingOne(clock, posts=False))
    for name in ("a", "b", "c"):
        say(person(f"{name}@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-06 09:00 Revisjon")
    app.delivery.plan()
    say(person("b@kommune.no"), "meld av")  # after planning, before sending
    app.delivery.workers["fake"].drain()
    with app.db.read() as s:
        rows = {d.target: d for d in s.scalars(select(Delivery))}
        events = s.scalars(select(AuditEvent).where(AuditEvent.action.like("delivery.%"))).all()
    assert {t: (d.state, d.attempts) for t, d in rows.items()} == {
        "person:1": ("sent", 1),
        "person:2": ("skipped", 0),
        "person:3": ("failed", 1),
    }
    seen = {
        (e.action, e.subject_type, e.subject_id, e.channel, e.actor_label, e.actor_person_id): e.details
        for e in events
    }
    engine = ("scheduler", "scheduler:delivery", None)
    assert seen == {
        ("delivery.sent", "delivery", rows["person:1"].id, *engine): {
            "kind": "invitation",
            "target": "person:1",
            "attempts": 1,
        },
        ("delivery.skipped", "delivery", rows["person:2"].id, *engine): {
            "kind": "invitation",
            "target": "person:2",
            "attempts": 0,
            "reason": "no longer subscribed",
        },
        ("delivery.failed", "delivery", rows["person:3"].id, *engine): {
            "kind": "invitation",
            "target": "person:3",
            "attempts": 1,
            "reason": "unknown user",
        },
    }
    assert {e.series_id for e in events} == {1}


def test_a_claim_hands_over_ids_with_targets_in_order_and_only_once(
    app: App, clock: ManualClock, say: Say
) -> None:
    app.delivery.add_sender(RecordingSender(clock))
    for name in ("a", "b", "c"):
        say(person(f"{name}@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-06 09:00 Fordeling")
    app.delivery.plan()
    outbox = app.delivery.outbox
    first = outbox.claim("fake", "one", clock.now(), 2)
    second = outbox.claim("fake", "two", clock.now(), 10)
    assert [c.target for c in first + second] == ["post", "person:1", "person:2", "person:3"]
    assert outbox.claim("fake", "three", clock.now(), 10) == []


def test_a_row_taken_over_after_its_lease_is_not_begun_by_its_first_worker(
    app: App, clock: ManualClock, say: Say
) -> None:
    app.delivery.add_sender(RecordingSender(clock, posts=False))
    say(person("a@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-06 09:00 Overtatt")
    app.delivery.plan()
    outbox = app.delivery.outbox
    [row] = outbox.claim("fake", "slow", clock.now(), 10)
    clock.advance(outbox.lease + timedelta(seconds=1))
    assert outbox.recover(clock.now()) == (1, 0)
    assert outbox.claim("fake", "other", clock.now(), 10) == [row]
    assert outbox.begin(row.id, "slow", clock.now()) is None
    message = outbox.begin(row.id, "other", clock.now())
    assert message is not None and message.target == "person:1" and message.recipient is not None
    assert message.recipient.email == "a@kommune.no"


def test_rows_begun_together_are_each_judged_as_if_begun_alone(
    app: App, clock: ManualClock, say: Say
) -> None:
    app.delivery.add_sender(RecordingSender(clock, posts=False))
    for name in ("a", "b", "c", "d"):
        say(person(f"{name}@kommune.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-06 09:00 Sammen")
    say(ORGANISER, "ny lenke 1 https://x.no/lysark.pdf Lysark; foredragsholder=Åse Ødegård")
    app.delivery.plan()
    say(person("b@kommune.no"), "meld av")  # after planning, before sending
    outbox = app.delivery.outbox
    mine = outbox.claim("fake", "one", clock.now(), 3)
    theirs = outbox.claim("fake", "two", clock.now(), 10)
    assert [c.target for c in mine + theirs] == ["person:1", "person:2", "person:3", "person:4"]
    with app.db.transaction() as s:
        begun = outbox.begin_all_in(s, [*mine, *theirs], "one", clock.now())
    emails = {
        row.target: None if message is None or message.recipient is None else message.recipient.email
        for row, message in zip(mine + theirs, begun.values(), strict=True)
    }
    assert emails == {
        "person:1": "a@kommune.no",
        "person:2": None,
        "person:3": "c@kommune.no",
        "person:4": None,
    }
    for row in (mine[0], mine[2]):
        message = begun[row.id]
        assert message is not None and message.session is not None
        assert [(link.url, link.speaker) for link in message.session.links] == [
            ("https://x.no/lysark.pdf", "Åse Ødegård")
        ]
    with app.db.read() as s:
        states = {target: state for target, state in s.execute(select(Delivery.target, Delivery.state))}
    # Not subscribed any more: skipped; another worker's: left to it.
    assert states == {
        "person:1": "sending",
        "person:2": "skipped",
        "person:3": "sending",
        "person:4": "claimed",
    }
