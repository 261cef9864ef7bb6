"""The outbox's state machine, one short transaction per step.

pending → claimed (a worker took it; nothing sent yet) → sending (in flight) → sent | pending (retry)
| failed | skipped. Only `sending` is ever in doubt after a crash, so a restart repeats at most the
message in flight, and checks with the platform first where it can.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, func, or_, select, update
from sqlalchemy.orm import Session

from bot.commands import Actor
from bot.db import Database
from bot.delivery import kinds
from bot.delivery.channels import OutgoingMessage
from bot.delivery.recipients import as_recipient, is_organiser, is_subscribed
from bot.models import Delivery, DeliveryState, Person, Series, SessionStatus
from bot.models import Session as SessionRow
from bot.services import audit
from bot.services.context import CoreConfig, Ctx
from bot.views import SeriesView, SessionView

# How long a worker's claim holds without news from it; renewed at every send, so a dead worker's
# rows go back to the others this long after it stopped.
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 8
ENGINE = Actor(platform="scheduler", external_id="delivery", is_operator=True)
P, C, S = DeliveryState.PENDING.value, DeliveryState.CLAIMED.value, DeliveryState.SENDING.value


class Outbox:
    def __init__(self, db: Database, config: CoreConfig, lease: timedelta = LEASE) -> None:
        self.db, self.config, self.lease = db, config, lease

    def claim(self, channel: str, worker: str, now: datetime, limit: int) -> list[int]:
        """Take up to `limit` due rows for `channel`; other processes skip the locked ones."""
        with self.db.transaction() as s:
            ids = list(
                s.scalars(
                    select(Delivery.id)
                    .where(
                        Delivery.channel == channel,
                        Delivery.state == P,
                        Delivery.due_at <= now,
                        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                    )
                    .order_by(Delivery.priority, Delivery.due_at, Delivery.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                s.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids))
                    .values(state=C, claimed_by=worker, lease_until=now + self.lease, updated_at=now)
                )
        return ids

    def begin(self, delivery_id: int, worker: str, now: datetime) -> OutgoingMessage | None:
        """Mark one claimed row as in flight and read what to send; None if it must not be sent."""
        with self.db.transaction() as s:
            d = s.get(Delivery, delivery_id, with_for_update=True)
            if d is None or d.state != C or d.claimed_by != worker:
                return None
            reason = skip_reason(s, d, now)
            if reason is not None:
                self._finish(s, d, now, DeliveryState.SKIPPED, error=reason)
                return None
            d.state, d.lease_until, d.updated_at = S, now + self.lease, now
            # The rest of this worker's batch is still in hand: keep its claim alive too.
            s.execute(
                update(Delivery)
                .where(Delivery.claimed_by == worker, Delivery.state == C)
                .values(lease_until=now + self.lease)
            )
            return _message(s, d)

    def sent(self, delivery_id: int, now: datetime, ref: str | None) -> None:
        with self.db.transaction() as s:
            d = s.get(Delivery, delivery_id, with_for_update=True)
            if d is not None:
                d.attempts += 1
                d.external_ref = ref
                d.sent_at = now
                self._finish(s, d, now, DeliveryState.SENT)

    def throttled(self, delivery_id: int, now: datetime, until: datetime, error: str) -> None:
        """Throttled (429): back to pending until `until`; not an attempt, nothing went out."""
        self._again(delivery_id, now, until, error, attempted=False, in_doubt=False)

    def transient(self, delivery_id: int, now: datetime, error: str, *, in_doubt: bool) -> str:
        """A failure worth retrying: back off exponentially; failed after MAX_ATTEMPTS. Returns the state."""
        with self.db.read() as s:
            d = s.get(Delivery, delivery_id)
            attempts = (d.attempts if d else 0) + 1
        if attempts >= MAX_ATTEMPTS:
            self.failed(delivery_id, now, f"gave up after {attempts} attempts: {error}")
            return DeliveryState.FAILED.value
        self._again(delivery_id, now, now + backoff(attempts), error, attempted=True, in_doubt=in_doubt)
        return P

    def _again(
        self, delivery_id: int, now: datetime, when: datetime, error: str, *, attempted: bool, in_doubt: bool
    ) -> None:
        with self.db.transaction() as s:
            d = s.get(Delivery, delivery_id, with_for_update=True)
            if d is None:
                return
            d.attempts += 1 if attempted else 0
            d.state, d.next_attempt_at, d.last_error = P, when, error[:500]
            d.in_doubt = d.in_doubt or in_doubt
            d.claimed_by = d.lease_until = None
            d.updated_at = now

    def failed(self, delivery_id: int, now: datetime, error: str) -> None:
        with self.db.transaction() as s:
            d = s.get(Delivery, delivery_id, with_for_update=True)
            if d is not None:
                d.attempts += 1
                self._finish(s, d, now, DeliveryState.FAILED, error=error)

    def release(self, delivery_ids: list[int], worker: str, now: datetime) -> None:
        """Hand back claimed rows this worker will not get to (shutting down)."""
        with self.db.transaction() as s:
            s.execute(
                update(Delivery)
                .where(Delivery.id.in_(delivery_ids), Delivery.state == C, Delivery.claimed_by == worker)
                .values(state=P, claimed_by=None, lease_until=None, updated_at=now)
            )

    def recover(self, now: datetime) -> tuple[int, int]:
        """Rows whose worker died: claimed ones go back as they were, sending ones come back in doubt."""
        with self.db.transaction() as s:
            expired = (Delivery.lease_until.is_not(None), Delivery.lease_until < now)
            back = _rows(
                s.execute(
                    update(Delivery)
                    .where(Delivery.state == C, *expired)
                    .values(state=P, claimed_by=None, lease_until=None, updated_at=now)
                )
            )
            doubt = _rows(
                s.execute(
                    update(Delivery)
                    .where(Delivery.state == S, *expired)
                    .values(state=P, in_doubt=True, claimed_by=None, lease_until=None, updated_at=now)
                )
            )
        return back, doubt

    def next_due(self, channel: str) -> datetime | None:
        with self.db.read() as s:
            return s.scalar(
                select(func.min(func.coalesce(Delivery.next_attempt_at, Delivery.due_at))).where(
                    Delivery.channel == channel, Delivery.state == P
                )
            )

    def _finish(
        self, s: Session, d: Delivery, now: datetime, state: DeliveryState, error: str | None = None
    ) -> None:
        d.state, d.updated_at = state.value, now
        d.claimed_by = d.lease_until = None
        if error is not None:
            d.last_error = error[:500]
        fanout = d.fanout
        details: dict[str, object] = {"kind": fanout.kind, "target": d.target, "attempts": d.attempts}
        if error is not None:
            details["reason"] = error[:200]
        audit.record(
            Ctx(s, ENGINE, now, self.config),
            f"delivery.{state.value}",
            series_id=fanout.series_id,
            subject=("delivery", d.id),
            person=None,
            **details,
        )


def _rows(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... up to 15 minutes, with jitter so retries of a fan-out spread out."""
    base = min(5 * 2 ** (attempts - 1), 900)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def skip_reason(s: Session, d: Delivery, now: datetime) -> str | None:
    """Why this message must not go out now, or None. Checked in the same transaction as the send
    is marked in flight: an unsubscribe a moment ago still stops it."""
    fanout = d.fanout
    session = s.get(SessionRow, fanout.session_id) if fanout.session_id else None
    if session is not None:
        if fanout.kind in kinds.BEFORE_START and session.start_at <= now:
            return "the session has started"
        if session.status == SessionStatus.CANCELLED.value and fanout.kind != kinds.CANCELLATION:
            return "the session was cancelled"
        planned_start = fanout.payload.get("start")
        if fanout.kind == kinds.REMINDER and planned_start != session.start_at.isoformat():
            return "the session was moved"
    if d.person_id is not None:
        if fanout.kind in kinds.PUBLIC and not is_subscribed(s, d.person_id, fanout.series_id):
            return "no longer subscribed"
        if fanout.kind in kinds.ORGANISERS and not is_organiser(s, d.person_id, fanout.series_id):
            return "no longer an organiser"
    return None


def _message(s: Session, d: Delivery) -> OutgoingMessage:
    fanout = d.fanout
    series = s.get(Series, fanout.series_id)
    assert series is not None
    session = s.get(SessionRow, fanout.session_id) if fanout.session_id else None
    person = s.get(Person, d.person_id) if d.person_id else None
    return OutgoingMessage(
        delivery_id=d.id,
        key=d.key,
        kind=fanout.kind,
        channel=d.channel,
        target=d.target,
        language=d.language,
        series=SeriesView.of(series),
        session=SessionView.of(session) if session else None,
        recipient=as_recipient(person, series) if person else None,
        payload=dict(fanout.payload),
        in_doubt=d.in_doubt,
    )
