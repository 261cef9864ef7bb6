"""The outbox's state machine, one short transaction per step.

pending → claimed (a worker took it; nothing sent yet) → sending (in flight) → sent | pending (retry)
| failed | skipped. Only `sending` is ever in doubt after a crash, so a restart repeats at most the
message in flight, and checks with the platform first where it can.

Each step is a few Core statements, every change of state guarded by the state it expects. What a
fan-out cannot change while it runs (its kind, payload and series) is read once per fan-out; the
session, the person and the subscription are read fresh as each row is marked in flight.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, case, exists, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.commands import Actor
from bot.db import Database
from bot.delivery import holds, kinds
from bot.delivery.batches import batch_members, is_batch
from bot.delivery.channels import OutgoingMessage, Recipient
from bot.delivery.fanouts import delivery_key
from bot.delivery.schedule import invitation_key
from bot.error_policy import describe
from bot.leases import LeasedTable
from bot.models import (
    Delivery,
    DeliveryState,
    Fanout,
    Identity,
    Organiser,
    Person,
    PresentationLink,
    Series,
    SessionStatus,
    Subscription,
)
from bot.models import Session as SessionRow
from bot.services import audit
from bot.services.context import CoreConfig
from bot.tokens import invite_url
from bot.views import LinkView, SeriesView, SessionView

# How long a worker's claim holds without news from it; the worker renews it while it works through
# its batch (bot.delivery.worker), so a dead worker's rows go back to the others this long after it stopped.
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 8
ENGINE = Actor(platform="scheduler", external_id="delivery", is_operator=True)
P, C, S = DeliveryState.PENDING.value, DeliveryState.CLAIMED.value, DeliveryState.SENDING.value
FANOUTS_KEPT = 256  # fan-outs whose fixed part is kept in memory (a handful run at a time)

D = cast(Table, Delivery.__table__)
DELIVERIES = LeasedTable(D)
# The order a claim takes rows in (the work index of migration 0009 follows it).
CLAIM_ORDER = (D.c.priority, D.c.due_at, D.c.id)
F = cast(Table, Fanout.__table__)
SESSION = cast(Table, SessionRow.__table__)
PERSON = cast(Table, Person.__table__)
SERIES = cast(Table, Series.__table__)
SUBSCRIPTION = cast(Table, Subscription.__table__)
ORGANISER = cast(Table, Organiser.__table__)
LINK = cast(Table, PresentationLink.__table__)
IDENTITY = cast(Table, Identity.__table__)
HOLD = holds.HOLD
log = logging.getLogger(__name__)
AnyRow = Row[*tuple[Any, ...]]


@dataclass(frozen=True)
class Claimed:
    """A row a worker took: its id, the target whose pace it must keep, and whether it is the one
    send that probes a held channel or target (bot.delivery.holds)."""

    id: int
    target: str
    probe: bool = False


@dataclass(frozen=True)
class SentMark:
    """A row the platform took: when, its reference there, and how it was sent (a note, or None)."""

    delivery_id: int
    at: datetime
    ref: str | None
    note: str | None = None


@dataclass(frozen=True)
class FanoutPart:
    """What a fan-out's rows share and cannot change while they go out."""

    kind: str
    series_id: int
    payload: dict[str, Any]
    series: SeriesView
    created_at: datetime
    due_at: datetime


class Outbox:
    def __init__(self, db: Database, config: CoreConfig, lease: timedelta = LEASE) -> None:
        self.db, self.config, self.lease = db, config, lease
        self._fanouts: dict[int, FanoutPart] = {}
        self._fanouts_lock = threading.Lock()

    def claim(
        self, channel: str, worker: str, now: datetime, limit: int, *, sent: Sequence[SentMark] = ()
    ) -> list[Claimed]:
        """Take up to `limit` due rows for `channel`, in order; other processes skip the locked ones.
        A held channel or target gives none but its probe, one row when the probe is due. `sent`:
        rows the worker sent since its last transaction, recorded in this one (see `sent_in`)."""
        waiting = (
            D.c.channel == channel,
            D.c.state == P,
            D.c.due_at <= now,
            or_(D.c.next_attempt_at.is_(None), D.c.next_attempt_at <= now),
        )
        values = {"state": C, "claimed_by": worker, "lease_until": now + self.lease, "updated_at": now}
        taken: list[Claimed] = []
        with self.db.transaction() as s:
            self.sent_in(s, sent)
            for hold in holds.due_for_probe(s, channel, now):
                probe = DELIVERIES.claim(
                    s,
                    waiting=(*waiting, holds.under(hold)),
                    order_by=CLAIM_ORDER,
                    limit=1,
                    values=values,
                    returning=(D.c.target,),
                )
                taken += [Claimed(row.id, row.target, probe=True) for row in probe]
            if len(taken) < limit:
                rows = DELIVERIES.claim(
                    s,
                    waiting=(*waiting, holds.not_held()),
                    order_by=CLAIM_ORDER,
                    limit=limit - len(taken),
                    values=values,
                    returning=(D.c.target,),
                )
                taken += [Claimed(row.id, row.target) for row in rows]
        return taken

    def renew(self, delivery_ids: list[int], worker: str, now: datetime) -> None:
        """Keep this worker's claim on rows it has not begun yet for another lease."""
        if not delivery_ids:
            return
        with self.db.transaction() as s:
            DELIVERIES.renew(s, delivery_ids, C, worker, now + self.lease)

    def renew_sending(self, delivery_ids: list[int], worker: str, now: datetime) -> None:
        """Keep this worker's lease on rows it is sending right now (a slow platform's answer)."""
        if not delivery_ids:
            return
        with self.db.transaction() as s:
            DELIVERIES.renew(s, delivery_ids, S, worker, now + self.lease)

    def begin(
        self, delivery_id: int, worker: str, now: datetime, *, probe: bool = False
    ) -> OutgoingMessage | None:
        """Mark one claimed row as in flight and read what to send; None if it must not be sent (now:
        a row claimed before its channel was held goes back, unsent, unless it is the probe)."""
        with self.db.transaction() as s:
            return self.begin_all_in(s, [Claimed(delivery_id, "", probe)], worker, now)[delivery_id]

    def begin_all_in(
        self, s: Session, rows: Sequence[Claimed], worker: str, now: datetime
    ) -> dict[int, OutgoingMessage | None]:
        """`begin` for several claimed rows in the caller's transaction (the one that booked their
        send slots): one read of them, one UPDATE marking those still to be sent, one read each of
        their links and identities. Each row is judged on its own (a message by id, or None)."""
        if not rows:
            return {}
        found = {row.id: row for row in s.execute(_IN_HAND, {"ids": [c.id for c in rows]})}
        begun: dict[int, OutgoingMessage | None] = {c.id: None for c in rows}
        back: list[int] = []
        going: list[tuple[AnyRow, FanoutPart, str | None]] = []
        for claimed in rows:
            row = found.get(claimed.id)
            if row is None or row.state != C or row.claimed_by != worker:
                continue
            if row.held and not claimed.probe:
                back.append(row.id)
                continue
            fanout = self._fanout(s, row.fanout_id)
            reason = skip_reason(fanout, row, now)
            if reason is not None and not row.in_doubt:  # in doubt: first ask whether it went out
                mine = (D.c.state == C, D.c.claimed_by == worker)
                self._finish(s, row.id, now, DeliveryState.SKIPPED, mine, error=reason, attempted=False)
                continue
            going.append((row, fanout, reason))
        if back:
            s.execute(_RELEASE, {"ids": back, "worker": worker, "now": now})
        if not going:
            return begun
        values = {"ids": [row.id for row, _, _ in going], "worker": worker, "lease": now + self.lease}
        marked = set(s.scalars(_MARK_SENDING, {**values, "now": now}))
        going = [(row, fanout, reason) for row, fanout, reason in going if row.id in marked]
        known = _Known.read(s, [row for row, _, _ in going])
        for row, fanout, reason in going:
            try:
                message = _message(s, row, fanout, self.config.public_base_url, known)
            except SQLAlchemyError:
                raise  # the transaction is lost: nothing of it stands
            except Exception as exc:  # this row's data makes no message: it fails alone, not its batch
                log.error("delivery %s: its message cannot be built; failed", row.id, exc_info=True)
                error = f"cannot build the message: {describe(exc)}"
                self._finish(s, row.id, now, DeliveryState.FAILED, error=error, attempted=False)
                continue
            begun[row.id] = replace(message, skip_unless_sent=reason) if reason is not None else message
        return begun

    def skipped(self, delivery_id: int, now: datetime, reason: str) -> None:
        """A message in doubt that did not go out, and must not any more."""
        with self.db.transaction() as s:
            self._finish(
                s, delivery_id, now, DeliveryState.SKIPPED, (D.c.state == S,), error=reason, attempted=False
            )

    def held_in(self, s: Session, delivery_id: int, now: datetime, error: str) -> None:
        """Its channel (or target) cannot send: back to pending, not an attempt, nothing went out; the
        hold decides when it goes (in the caller's transaction, the one that records the hold)."""
        _again(s, delivery_id, now, now, error, attempted=False, in_doubt=False)

    def sent(self, delivery_id: int, now: datetime, ref: str | None, *, note: str | None = None) -> None:
        """Sent; `note` (how it was sent, e.g. again without a check) is kept as the row's last
        word and in its audit row."""
        with self.db.transaction() as s:
            self.sent_in(s, [SentMark(delivery_id, now, ref, note)])

    def sent_in(self, s: Session, marks: Sequence[SentMark]) -> None:
        """`sent` for many rows in the caller's transaction: one UPDATE run for all (executemany), one
        read of what their audit rows need, and their audit rows in one INSERT. A worker records the
        rows it sent with its next transaction, instead of a commit of their own each (on SQLite a
        commit is a disk flush under the one write lock: two a message held a fan-out below 50/s)."""
        if not marks:
            return
        s.execute(
            _SENT,
            [
                {"delivery": m.delivery_id, "ref": m.ref, "now": m.at, "sent_note": _note(m.note)}
                for m in marks
            ],
        )
        ended = {row.id: row for row in s.execute(_ENDED_ROWS, {"ids": [m.delivery_id for m in marks]})}
        self._audit_all(
            s, DeliveryState.SENT, [(m.at, m.delivery_id, ended.get(m.delivery_id), m.note) for m in marks]
        )

    def throttled(
        self, delivery_id: int, now: datetime, until: datetime, error: str, *, in_doubt: bool = False
    ) -> None:
        """Throttled (429): back to pending until `until`; not an attempt, nothing went out (unless
        `in_doubt`: the next attempt looks for it first)."""
        with self.db.transaction() as s:
            _again(s, delivery_id, now, until, error, attempted=False, in_doubt=in_doubt)

    def transient(self, delivery_id: int, now: datetime, error: str, *, in_doubt: bool) -> str:
        """A failure worth retrying: back off exponentially; failed after MAX_ATTEMPTS. Returns the state."""
        with self.db.transaction() as s:
            attempts = (s.scalar(select(D.c.attempts).where(D.c.id == delivery_id)) or 0) + 1
            if attempts >= MAX_ATTEMPTS:
                failure = f"gave up after {attempts} attempts: {error}"
                self._finish(s, delivery_id, now, DeliveryState.FAILED, error=failure, attempted=True)
                return DeliveryState.FAILED.value
            _again(s, delivery_id, now, now + backoff(attempts), error, attempted=True, in_doubt=in_doubt)
        return P

    def failed(self, delivery_id: int, now: datetime, error: str) -> None:
        with self.db.transaction() as s:
            self._finish(s, delivery_id, now, DeliveryState.FAILED, error=error, attempted=True)

    def release(self, delivery_ids: list[int], worker: str, now: datetime) -> None:
        """Hand back claimed rows this worker will not get to (shutting down)."""
        with self.db.transaction() as s:
            s.execute(_RELEASE, {"ids": delivery_ids, "worker": worker, "now": now})

    def recover(self, now: datetime) -> tuple[int, int]:
        """Rows whose worker died: claimed ones go back as they were, sending ones come back in doubt."""
        with self.db.transaction() as s:
            back = DELIVERIES.take_back(s, now, C, state=P, updated_at=now)
            doubt = DELIVERIES.take_back(s, now, S, state=P, in_doubt=True, updated_at=now)
        return back, doubt

    def next_due(self, channel: str) -> datetime | None:
        """When the channel next has something to send: a row under no hold, or a hold's probe."""
        with self.db.read() as s:
            due = s.scalar(
                select(func.min(func.coalesce(D.c.next_attempt_at, D.c.due_at))).where(
                    D.c.channel == channel, D.c.state == P, holds.not_held()
                )
            )
            probe = holds.next_probe(s, channel)
        return min((at for at in (due, probe) if at is not None), default=None)

    def _finish(
        self,
        s: Session,
        delivery_id: int,
        now: datetime,
        state: DeliveryState,
        guard: tuple[Any, ...] = (),
        *,
        error: str,
        attempted: bool,
    ) -> None:
        """Failed or skipped: the row's last state change, and its audit row."""
        values: dict[str, Any] = {"last_error": error[:500]}
        if attempted:
            values["attempts"] = D.c.attempts + 1
        done = s.execute(
            update(D)
            .where(D.c.id == delivery_id, *guard)
            .values(state=state.value, updated_at=now, claimed_by=None, lease_until=None, **values)
            .returning(*_ENDED)
        ).first()
        self._audit(s, now, state, delivery_id, done, error)

    def _audit(
        self,
        s: Session,
        now: datetime,
        state: DeliveryState,
        delivery_id: int,
        done: AnyRow | None,
        error: str | None = None,
    ) -> None:
        """The audit row of a row's last state change."""
        self._audit_all(s, state, [(now, delivery_id, done, error)])

    def _audit_all(
        self,
        s: Session,
        state: DeliveryState,
        changes: Sequence[tuple[datetime, int, AnyRow | None, str | None]],
    ) -> None:
        """The audit rows of rows' last state changes (when, which, its row as it ended, why), as one
        INSERT; a row gone meanwhile (erased with its person) has none."""
        entries: list[audit.SystemEntry] = []
        for at, delivery_id, done, error in changes:
            if done is None:
                continue
            fanout = self._fanout(s, done.fanout_id)
            details: dict[str, object] = {
                "kind": fanout.kind,
                "target": done.target,
                "attempts": done.attempts,
            }
            if error is not None:
                details["reason"] = error[:200]
            entries.append(
                audit.SystemEntry(
                    at, f"delivery.{state.value}", fanout.series_id, ("delivery", delivery_id), details
                )
            )
        audit.record_all_for_system(s, ENGINE, entries)

    def _fanout(self, s: Session, fanout_id: int) -> FanoutPart:
        found = self._fanouts.get(fanout_id)
        if found is not None:
            return found
        row = s.execute(
            select(F.c.kind, F.c.payload, F.c.created_at, F.c.due_at, SERIES)
            .join(SERIES, SERIES.c.id == F.c.series_id)
            .where(F.c.id == fanout_id)
        ).one()
        series = SeriesView.of(row)
        found = FanoutPart(row.kind, row.id, dict(row.payload or {}), series, row.created_at, row.due_at)
        with self._fanouts_lock:
            if len(self._fanouts) >= FANOUTS_KEPT:
                self._fanouts.clear()
            self._fanouts[fanout_id] = found
        return found


def _again(
    s: Session,
    delivery_id: int,
    now: datetime,
    when: datetime,
    error: str,
    *,
    attempted: bool,
    in_doubt: bool,
) -> None:
    """Back to pending, to be tried from `when`."""
    values: dict[str, Any] = {
        "state": P,
        "next_attempt_at": when,
        "last_error": error[:500],
        "claimed_by": None,
        "lease_until": None,
        "updated_at": now,
    }
    if attempted:
        values["attempts"] = D.c.attempts + 1
    if in_doubt:
        values["in_doubt"] = True
    s.execute(update(D).where(D.c.id == delivery_id).values(**values))


def _note(note: str | None) -> str | None:
    return None if note is None else note[:500]


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... up to 15 minutes, with jitter so retries of a fan-out spread out."""
    base = min(5 * 2 ** (attempts - 1), 900)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


# One row in hand, with everything that may have changed since it was planned: its own state, the
# session, the person, and whether they still subscribe to or organise the series.
_IN_HAND = (
    select(
        D.c.id,
        D.c.key,
        D.c.fanout_id,
        D.c.channel,
        D.c.target,
        D.c.person_id,
        D.c.language,
        D.c.in_doubt,
        D.c.state,
        D.c.claimed_by,
        SESSION.c.id.label("session_id"),
        SESSION.c.title,
        SESSION.c.topic,
        SESSION.c.speakers,
        SESSION.c.description,
        SESSION.c.start_at,
        SESSION.c.duration_minutes,
        SESSION.c.join_url,
        SESSION.c.status,
        SESSION.c.sequence,
        PERSON.c.name.label("person_name"),
        # A suspended address (too many hard bounces) is no address to mail.
        case((PERSON.c.mail_suspended_at.is_(None), PERSON.c.email), else_=None).label("person_email"),
        PERSON.c.language.label("person_language"),
        select(SUBSCRIPTION.c.active)
        .where(SUBSCRIPTION.c.person_id == D.c.person_id, SUBSCRIPTION.c.series_id == F.c.series_id)
        .scalar_subquery()
        .label("subscribed"),
        exists()
        .where(ORGANISER.c.person_id == D.c.person_id, ORGANISER.c.series_id == F.c.series_id)
        .label("organiser"),
        exists().where(HOLD.c.channel == D.c.channel, holds.covering(HOLD.c.target)).label("held"),
    )
    .select_from(
        D.join(F, F.c.id == D.c.fanout_id)
        .outerjoin(SESSION, SESSION.c.id == F.c.session_id)
        .outerjoin(PERSON, PERSON.c.id == D.c.person_id)
    )
    .where(D.c.id.in_(bindparam("ids", expanding=True)))
)
_RELEASE = (
    update(D)
    .where(
        D.c.id.in_(bindparam("ids", expanding=True)), D.c.state == C, D.c.claimed_by == bindparam("worker")
    )
    .values(state=P, claimed_by=None, lease_until=None, updated_at=bindparam("now"))
)
_MARK_SENDING = (
    update(D)
    .where(
        D.c.id.in_(bindparam("ids", expanding=True)),
        D.c.state == C,
        D.c.claimed_by == bindparam("worker"),
    )
    .values(state=S, lease_until=bindparam("lease"), updated_at=bindparam("now"))
    .returning(D.c.id)
)
_LINKS = (
    select(LINK.c.session_id, LINK.c.id, LINK.c.title, LINK.c.speaker, LINK.c.url, LINK.c.kind)
    .where(LINK.c.session_id.in_(bindparam("sessions", expanding=True)))
    .order_by(LINK.c.id)
)
_IDENTITIES = (
    select(IDENTITY.c.person_id, IDENTITY.c.platform, IDENTITY.c.external_id)
    .where(IDENTITY.c.person_id.in_(bindparam("people", expanding=True)), IDENTITY.c.active.is_(True))
    .order_by(IDENTITY.c.id)
)
_FIRST_REF = select(D.c.external_ref).where(
    D.c.key == bindparam("key"), D.c.state == DeliveryState.SENT.value
)
_ENDED = (D.c.fanout_id, D.c.target, D.c.attempts)  # what the audit row of a last state change needs
# Run for many rows at once (executemany): no RETURNING; _ENDED_ROWS reads what the audit needs.
_SENT = (
    update(D)
    .where(D.c.id == bindparam("delivery"))
    .values(
        state=DeliveryState.SENT.value,
        attempts=D.c.attempts + 1,
        external_ref=bindparam("ref"),
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
        claimed_by=None,
        lease_until=None,
        # A note (how it was sent) is the row's last word; without one the last error stays.
        last_error=func.coalesce(bindparam("sent_note", type_=D.c.last_error.type), D.c.last_error),
    )
)
_ENDED_ROWS = select(D.c.id, *_ENDED).where(D.c.id.in_(bindparam("ids", expanding=True)))


def skip_reason(fanout: FanoutPart, row: AnyRow, now: datetime) -> str | None:
    """Why this message must not go out now, or None. Checked in the same transaction as the send
    is marked in flight: an unsubscribe a moment ago still stops it."""
    kind = fanout.kind
    if row.session_id is not None:
        if kind in kinds.BEFORE_START and row.start_at <= now:
            return "the session has started"
        if row.status == SessionStatus.CANCELLED.value and kind != kinds.CANCELLATION:
            return "the session was cancelled"
        if kind == kinds.REMINDER and fanout.payload.get("start") != row.start_at.isoformat():
            return "the session was moved"
    if row.person_id is not None:
        if kind in kinds.PUBLIC and not row.subscribed:
            return "no longer subscribed"
        if kind in kinds.ORGANISERS and not row.organiser:
            return "no longer an organiser"
    return None


@dataclass(frozen=True)
class _Known:
    """The presentation links of the rows' sessions and the identities of their people, each read
    once for all the rows begun together."""

    links: dict[int, list[LinkView]]
    identities: dict[int, dict[str, str]]

    @classmethod
    def read(cls, s: Session, rows: Sequence[AnyRow]) -> _Known:
        sessions = sorted({row.session_id for row in rows if row.session_id is not None})
        people = sorted({row.person_id for row in rows if row.person_id is not None})
        links: dict[int, list[LinkView]] = {session: [] for session in sessions}
        if sessions:
            for link in s.execute(_LINKS, {"sessions": sessions}):
                links[link.session_id].append(LinkView(*link[1:]))
        identities: dict[int, dict[str, str]] = {person: {} for person in people}
        if people:
            for person_id, platform, external in s.execute(_IDENTITIES, {"people": people}):
                identities[person_id][platform] = external
        return cls(links, identities)


def _message(
    s: Session, row: AnyRow, fanout: FanoutPart, base_url: str | None, known: _Known
) -> OutgoingMessage:
    series = fanout.series
    session = None
    if row.session_id is not None:
        session = SessionView.of_row(row.session_id, row, series, known.links[row.session_id])
    recipient = None
    if row.person_id is not None:
        recipient = Recipient(
            person_id=row.person_id,
            language=row.person_language or series.language,
            name=row.person_name,
            email=row.person_email,
            identities=dict(known.identities[row.person_id]),
        )
    batch: tuple[Recipient, ...] = ()
    if row.person_id is None and is_batch(row.target):
        when = (fanout.created_at, fanout.due_at)
        batch = batch_members(s, series, row.target, fanout.kind, fanout.payload, *when)
    first_ref = None
    if row.session_id is not None and row.person_id is None and fanout.kind != kinds.INVITATION:
        key = delivery_key(invitation_key(row.session_id), row.channel, row.target)
        first_ref = s.execute(_FIRST_REF, {"key": key}).scalar_one_or_none()
    return OutgoingMessage(
        delivery_id=row.id,
        key=row.key,
        kind=fanout.kind,
        channel=row.channel,
        target=row.target,
        language=row.language,
        series=series,
        session=session,
        recipient=recipient,
        payload=dict(fanout.payload),
        in_doubt=bool(row.in_doubt),
        first_ref=first_ref,
        invite_url=invite_url(base_url, series.slug) if fanout.kind in kinds.PUBLIC else None,
        batch=batch,
    )
