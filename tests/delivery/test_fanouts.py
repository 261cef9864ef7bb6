"""Writing outbox rows in bulk (existing keys left alone) and reading what went out per session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot.clock import ManualClock
from bot.delivery.channels import Pace, Target
from bot.delivery.fanouts import (
    delivery_row,
    fanout_duration,
    insert_ignoring_duplicates,
    record_fanout,
    snapshots,
)
from bot.delivery.schedule import Planned
from bot.entry.composition import App
from bot.models import Delivery, DeliveryState, FanoutState, PresentationLink
from bot.models import Session as SessionRow
from tests.conftest import ORGANISER, person

Say = Callable[..., str]


def _session(say: Say) -> None:
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 2026-03-07 09:00 Sirkulær økonomi")


def test_bulk_insert_leaves_existing_keys_alone(app: App, clock: ManualClock, say: Say) -> None:
    _session(say)
    now = clock.now()
    with app.db.transaction() as s:
        session = s.scalars(select(SessionRow)).one()
        fanout = record_fanout(s, session, Planned("s1:test", "reminder", now), FanoutState.EXPANDED, now)
        first = [delivery_row(fanout, "fake", Target(f"person:{i}", "nb", None), now, now) for i in range(3)]
        insert_ignoring_duplicates(s, first)
    later = now + timedelta(minutes=5)
    with app.db.transaction() as s:
        session = s.scalars(select(SessionRow)).one()
        fanout = s.get_one(type(fanout), fanout.id)
        again = [
            delivery_row(
                fanout, "fake", Target(f"person:{i}", "en", None), later, later, DeliveryState.SKIPPED
            )
            for i in range(1, 2_500)  # two of them exist; many rows go in one statement
        ]
        insert_ignoring_duplicates(s, again)
        insert_ignoring_duplicates(s, [])
    with app.db.read() as s:
        rows = {d.key: d for d in s.scalars(select(Delivery))}
    assert len(rows) == 2_500
    for kept in ("s1:test|fake|person:1", "s1:test|fake|person:2"):
        assert (rows[kept].language, rows[kept].state, rows[kept].due_at) == ("nb", "pending", now)
    assert (rows["s1:test|fake|person:9"].language, rows["s1:test|fake|person:9"].state) == ("en", "skipped")
    assert rows["s1:test|fake|person:9"].due_at == later


def test_snapshots_read_what_went_out_for_every_session_at_once(
    app: App, clock: ManualClock, say: Say
) -> None:
    say(person("a@x.no"), "meld på")
    _session(say)
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 2026-03-10 09:00 Energi")
    app.delivery.plan()  # both invitations go out (their time has passed)
    clock.advance(timedelta(hours=1))
    assert "er endret" in say(ORGANISER, "endre økt 1 start=2026-03-07 10:00")
    app.delivery.plan()  # the move is announced
    now = clock.now()
    with app.db.transaction() as s:
        s.add(PresentationLink(session_id=2, title="Lysark", url="https://x.no/a.pdf", added_at=now))
    with app.db.read() as s:
        found = {snap.session.id: snap for snap in snapshots(s, SessionRow.id.in_([1, 2]))}
    moved, other = found[1].facts, found[2].facts
    assert "s1:invitation" in moved.existing and "s1:change:2026-03-07T09:00:00+00:00" in moved.existing
    assert moved.invited_start == "2026-03-07T09:00:00+00:00"  # what the change announced
    assert moved.invitation is not None and moved.invitation.at == now - timedelta(hours=1)
    assert moved.last_link_at is None
    assert other.invited_start == "2026-03-10T08:00:00+00:00" and other.last_link_at == now
    assert found[2].session.series.slug == "baerekraftsfredag"
    assert [p.kind for p in found[2].plans()][:2] == ["invitation", "reminder"]


class _Paced:
    """A sender's pacing alone: a channel of its own per target, one shared key with a burst."""

    channel = "paced"
    in_flight = 1

    def pacing(self, target: str) -> list[Pace]:
        return [Pace(f"one:{target}", timedelta(seconds=1)), Pace("shared", timedelta(seconds=2), burst=3)]


def test_a_fanout_lasts_an_interval_per_send_beyond_the_burst_of_its_busiest_key() -> None:
    targets = [Target(f"U{i}", "nb") for i in range(6)]
    assert fanout_duration(_Paced(), targets) == timedelta(seconds=2 * (6 - 3))  # type: ignore[arg-type]
    assert fanout_duration(_Paced(), targets[:3]) == timedelta(0)  # type: ignore[arg-type]
