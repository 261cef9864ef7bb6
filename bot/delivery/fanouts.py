"""Writing fan-outs and their outbox rows (once, whatever runs it), and reading what went out before."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.delivery import kinds
from bot.delivery.channels import Sender, Target
from bot.delivery.recipients import organisers
from bot.delivery.schedule import Planned, invitation_key
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


def fanout_duration(sender: Sender, targets: Sequence[Target]) -> timedelta:
    """How long sending to `targets` takes under the sender's limits: the busiest key decides."""
    load: Counter[str] = Counter()
    interval: dict[str, timedelta] = {}
    for target in targets:
        for pace in sender.pacing(target.target):
            load[pace.key] += 1
            interval[pace.key] = pace.interval
    return max((interval[k] * (n - 1) for k, n in load.items()), default=timedelta(0))


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


def delivery_key(fanout: Fanout, channel: str, target: Target) -> str:
    return f"{fanout.key}|{channel}|{target.target}"


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
        "key": delivery_key(fanout, channel, target),
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
    if not rows:
        return
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    for start in range(0, len(rows), 1000):
        stmt = insert(Delivery).values(rows[start : start + 1000])
        s.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


def existing_keys(s: Session, session_id: int) -> set[str]:
    return set(s.scalars(select(Fanout.key).where(Fanout.session_id == session_id)))


def invited_start(s: Session, session_id: int) -> str | None:
    """The start the invitation announced, or None if no invitation went out."""
    fanout = s.scalar(select(Fanout).where(Fanout.key == invitation_key(session_id)))
    if fanout is None or fanout.state != FanoutState.EXPANDED.value:
        return None
    changes = s.scalars(
        select(Fanout)
        .where(
            Fanout.session_id == session_id,
            Fanout.kind == kinds.CHANGE,
            Fanout.state == FanoutState.EXPANDED.value,
        )
        .order_by(Fanout.id)
    ).all()
    latest = changes[-1].payload if changes else fanout.payload
    value = latest.get("start")
    return value if isinstance(value, str) else None


def invited_at(s: Session, session_id: int) -> datetime | None:
    fanout = s.scalar(select(Fanout).where(Fanout.key == invitation_key(session_id)))
    if fanout is None or fanout.state != FanoutState.EXPANDED.value:
        return None
    return fanout.created_at


def last_link_at(s: Session, session_id: int) -> datetime | None:
    return s.scalar(
        select(func.max(PresentationLink.added_at)).where(PresentationLink.session_id == session_id)
    )
