"""Writing fan-outs and their outbox rows (once, whatever runs it), and reading what went out before
(for all the sessions of a planner pass at once)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Table, delete, func, select
from sqlalchemy.orm import Session, joinedload

from bot.db import dialect_insert
from bot.delivery import kinds
from bot.delivery.channels import Pace, Sender, Target
from bot.delivery.recipients import organisers
from bot.delivery.schedule import Planned, invitation_key, planned_for
from bot.models import Delivery, DeliveryState, Fanout, FanoutState, PresentationLink, Series
from bot.models import Session as SessionRow
from bot.views import SeriesView


def notify_organisers(
    s: Session,
    senders: Sequence[Sender],
    series: Series,
    session_id: int | None,
    kind: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """A message to the series' organisers, due now, once per `key`. False if it existed already."""
    if s.scalar(select(Fanout.id).where(Fanout.key == key)) is not None:
        return False
    plan = Planned(key, kind, now, payload)
    fanout = Fanout(
        key=key,
        session_id=session_id,
        series_id=series.id,
        kind=kind,
        due_at=now,
        state=FanoutState.EXPANDED.value,
        payload=payload,
        created_at=now,
    )
    s.add(fanout)
    s.flush()
    people = organisers(s, series)
    view = SeriesView.of(series)
    rows = [
        delivery_row(fanout, sender.channel, t, now, now)
        for sender in senders
        for t in sender.audience(plan.kind, view, people)
    ]
    insert_ignoring_duplicates(s, rows)
    return True


def one_message(
    s: Session,
    *,
    key: str,
    kind: str,
    series_id: int,
    channel: str,
    target: Target,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """One message to one target, due now and ahead of announcements, once per `key` (a mail a
    person asked for: the web's confirmation links). Goes out through the outbox like the rest, so
    nobody waits for it and the channel's pace holds. False if it existed already."""
    if s.scalar(select(Fanout.id).where(Fanout.key == key)) is not None:
        return False
    fanout = Fanout(
        key=key,
        series_id=series_id,
        kind=kind,
        due_at=now,
        state=FanoutState.EXPANDED.value,
        payload=payload,
        created_at=now,
    )
    s.add(fanout)
    s.flush()
    insert_ignoring_duplicates(s, [{**delivery_row(fanout, channel, target, now, now), "priority": 0}])
    return True


def forget_finished(s: Session, kind: str, before: datetime) -> int:
    """One-off messages of `kind` (queued by `one_message`) whose send ended before `before` leave
    the outbox with what they carried (a confirmation link); returns how many."""
    done = (DeliveryState.SENT.value, DeliveryState.FAILED.value, DeliveryState.SKIPPED.value)
    finished = (
        select(Delivery.fanout_id)
        .join(Fanout, Fanout.id == Delivery.fanout_id)
        .where(Fanout.kind == kind, Delivery.state.in_(done), Delivery.updated_at < before)
    )
    ids = list(s.scalars(finished))
    if ids:
        s.execute(delete(Delivery).where(Delivery.fanout_id.in_(ids)))
        s.execute(delete(Fanout).where(Fanout.id.in_(ids)))
    return len(ids)


def fanout_duration(sender: Sender, targets: Sequence[Target]) -> timedelta:
    """How long sending to `targets` takes under the sender's limits (`paced_duration`)."""
    return paced_duration((pace, 1) for target in targets for pace in sender.pacing(target.target))


def paced_duration(sends: Iterable[tuple[Pace, int]]) -> timedelta:
    """How long sends take under their paces (pace, sends on it): the busiest key decides (its first
    `burst` sends go at once, then one per interval)."""
    load: Counter[str] = Counter()
    paces: dict[str, Pace] = {}
    for pace, n in sends:
        load[pace.key] += n
        paces[pace.key] = pace
    return max(
        (paces[k].interval * max(n - paces[k].burst, 0) for k, n in load.items()), default=timedelta(0)
    )


def record_fanout(
    s: Session, session: SessionRow, plan: Planned, state: FanoutState, now: datetime, note: str | None = None
) -> Fanout:
    fanout = Fanout(
        key=plan.key,
        session_id=session.id,
        series_id=session.series_id,
        kind=plan.kind,
        due_at=plan.due_at,
        state=state.value,
        note=note,
        payload=plan.payload,
        created_at=now,
    )
    s.add(fanout)
    s.flush()
    return fanout


def delivery_key(fanout_key: str, channel: str, target: str) -> str:
    """The outbox row's key: one message of one fan-out to one target through one channel."""
    return f"{fanout_key}|{channel}|{target}"


def delivery_row(
    fanout: Fanout,
    channel: str,
    target: Target,
    due: datetime,
    now: datetime,
    state: DeliveryState = DeliveryState.PENDING,
    note: str | None = None,
) -> dict[str, Any]:
    return {
        "key": delivery_key(fanout.key, channel, target.target),
        "fanout_id": fanout.id,
        "channel": channel,
        "target": target.target,
        "person_id": target.person_id,
        "language": target.language,
        "priority": 0 if fanout.kind in kinds.ORGANISERS else 1,
        "due_at": due,
        "state": state.value,
        "attempts": 0,
        "in_doubt": False,
        "last_error": note,
        "created_at": now,
        "updated_at": now,
    }


def insert_ignoring_duplicates(s: Session, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows in one statement executed for all of them (executemany, not a row at a
    time); a row whose key exists already is left out (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    insert = dialect_insert(s.get_bind().dialect.name)
    # The table, not the mapped class: plain executemany, without the ORM's bulk bookkeeping per row.
    stmt = insert(cast(Table, Delivery.__table__)).on_conflict_do_nothing(index_elements=["key"])
    s.execute(stmt, rows)


@dataclass(frozen=True)
class Invitation:
    """The invitation that went out for a session: its fan-out's id and when it was expanded."""

    fanout_id: int
    at: datetime


@dataclass(frozen=True)
class SessionFacts:
    """What went out for one session before: the planner's view of its history."""

    existing: frozenset[str]  # the keys of its fan-outs
    invitation: Invitation | None  # None until an invitation went out
    invited_start: str | None  # the start the invitation (or the latest change) announced
    last_link_at: datetime | None  # when the latest slide link was added
    invited_join_url: str | None = None  # the join link the invitation (or a later change) announced


class _FanoutRow(NamedTuple):
    id: int
    key: str
    kind: str
    state: str
    payload: dict[str, object]
    created_at: datetime


@dataclass(frozen=True)
class Snapshot:
    """A session as the planner sees it: the row (with its series) and what went out for it."""

    session: SessionRow
    facts: SessionFacts

    def plans(self) -> list[Planned]:
        facts = self.facts
        return planned_for(
            self.session,
            self.session.series,
            facts.invited_start,
            facts.last_link_at,
            facts.invited_join_url,
        )


def snapshots(s: Session, *where: ColumnElement[bool]) -> list[Snapshot]:
    """The sessions matching `where`, by start, each with its facts: three queries in all."""
    sessions = list(
        s.scalars(
            select(SessionRow)
            .where(*where)
            .options(joinedload(SessionRow.series))
            .order_by(SessionRow.start_at)
        )
    )
    facts = session_facts(s, [session.id for session in sessions])
    return [Snapshot(session, facts[session.id]) for session in sessions]


def session_facts(s: Session, session_ids: Sequence[int]) -> dict[int, SessionFacts]:
    """`SessionFacts` for each of `session_ids`, in two queries whatever their number."""
    if not session_ids:
        return {}
    fanouts: dict[int, list[_FanoutRow]] = {sid: [] for sid in session_ids}
    for row in s.execute(
        select(
            Fanout.session_id,
            Fanout.id,
            Fanout.key,
            Fanout.kind,
            Fanout.state,
            Fanout.payload,
            Fanout.created_at,
        )
        .where(Fanout.session_id.in_(session_ids))
        .order_by(Fanout.id)
    ):
        sid, fanout_id, key, kind, state, payload, created_at = row
        if sid is not None:
            fanouts[sid].append(_FanoutRow(fanout_id, key, kind, state, payload, created_at))
    links = {
        sid: added_at
        for sid, added_at in s.execute(
            select(PresentationLink.session_id, func.max(PresentationLink.added_at))
            .where(PresentationLink.session_id.in_(session_ids))
            .group_by(PresentationLink.session_id)
        )
    }
    return {sid: _facts(sid, rows, links.get(sid)) for sid, rows in fanouts.items()}


def _facts(session_id: int, rows: list[_FanoutRow], last_link_at: datetime | None) -> SessionFacts:
    expanded = FanoutState.EXPANDED.value
    key = invitation_key(session_id)
    invited = next((r for r in rows if r.key == key and r.state == expanded), None)
    if invited is None:
        return SessionFacts(frozenset(r.key for r in rows), None, None, last_link_at)
    changes = [r for r in rows if r.kind == kinds.CHANGE and r.state == expanded]  # by id
    value = (changes[-1] if changes else invited).payload.get("start")
    links = [r.payload.get("join_url") for r in [invited, *changes]]
    join_url = next((link for link in reversed(links) if isinstance(link, str)), None)
    return SessionFacts(
        frozenset(r.key for r in rows),
        Invitation(invited.id, invited.created_at),
        value if isinstance(value, str) else None,
        last_link_at,
        join_url,
    )
