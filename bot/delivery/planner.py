"""The planner (leader only): turns due messages into outbox rows, once, and warns organisers early.

For each session near in time it works out what is due (`schedule.planned_for`), skips what was
missed while the bot was down (with an audit note), and expands the rest into one `Delivery` per
channel × target. Rate-limited channels start early enough to finish by the due time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db import Database
from bot.delivery import kinds
from bot.delivery.channels import Recipient, Sender, Target
from bot.delivery.outbox import ENGINE
from bot.delivery.recipients import organisers, subscribers
from bot.delivery.schedule import Planned, invitation_key, miss_reason, planned_for, too_recent
from bot.models import (
    Delivery,
    DeliveryState,
    Fanout,
    FanoutState,
    PresentationLink,
    Series,
    SessionStatus,
    Subscription,
)
from bot.models import Session as SessionRow
from bot.services import audit
from bot.services.context import CoreConfig, Ctx
from bot.views import SeriesView

log = logging.getLogger(__name__)

# How far ahead the planner looks: the longest fan-out it can start early for.
LOOKAHEAD = timedelta(hours=24)
LATE_WARNING = timedelta(minutes=5)
LEAD_CACHE = timedelta(minutes=5)


@dataclass
class PlanReport:
    expanded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    added_late: int = 0


@dataclass(frozen=True)
class Expansion:
    targets: dict[str, list[Target]]  # channel → targets
    lead: dict[str, timedelta]  # channel → time the fan-out takes under its limits
    skipped: dict[str, list[Target]]


class Planner:
    def __init__(self, db: Database, config: CoreConfig, senders: Callable[[], Sequence[Sender]]) -> None:
        self.db, self.config, self.senders = db, config, senders
        self._leads: dict[str, tuple[datetime, timedelta]] = {}

    def run(self, now: datetime) -> PlanReport:
        report = PlanReport()
        for session_id in self._candidates(now):
            with self.db.transaction() as s:
                self._plan_session(s, session_id, now, report)
        return report

    def next_due(self, now: datetime) -> datetime | None:
        """The next moment something becomes due (for a precise wake-up), within the lookahead."""
        soonest: datetime | None = None
        with self.db.read() as s:
            for session_id in self._candidates(now, s):
                session = s.get(SessionRow, session_id)
                assert session is not None
                existing = _existing_keys(s, session.id)
                invited = _invited_start(s, session.id)
                for plan in planned_for(session, session.series, invited, _last_link_at(s, session.id)):
                    # A rate-limited fan-out starts its lead time before the due moment.
                    start = plan.due_at - self._leads.get(plan.key, (now, timedelta(0)))[1]
                    if plan.key not in existing and start > now:
                        soonest = start if soonest is None else min(soonest, start)
        return soonest

    def _candidates(self, now: datetime, s: Session | None = None) -> list[int]:
        query = select(SessionRow.id).where(
            SessionRow.start_at <= now + timedelta(days=62),
            SessionRow.start_at >= now - timedelta(days=32),
        )
        if s is not None:
            return list(s.scalars(query.order_by(SessionRow.start_at)))
        with self.db.read() as rs:
            return list(rs.scalars(query.order_by(SessionRow.start_at)))

    def _plan_session(self, s: Session, session_id: int, now: datetime, report: PlanReport) -> None:
        session = s.get(SessionRow, session_id)
        if session is None:
            return
        series = session.series
        existing = _existing_keys(s, session.id)
        invited = _invited_start(s, session.id)
        invited_at = _invited_at(s, session.id)
        plans = planned_for(session, series, invited, _last_link_at(s, session.id))
        people: list[Recipient] | None = None
        for plan in plans:
            if plan.key in existing or plan.due_at > now + LOOKAHEAD:
                continue
            reason = miss_reason(plan, session, plans, now) if plan.due_at <= now else None
            if reason is None and plan.kind == kinds.REMINDER and invited_at and plan.due_at < invited_at:
                reason = "missed: the invitation went out after this reminder's time"
            if reason is not None:
                record_fanout(s, session, plan, FanoutState.SKIPPED, now, note=reason)
                self._audit(s, now, series, "fanout.skipped", plan, reason=reason)
                report.skipped.append(plan.key)
                continue
            if plan.due_at > now and not self._lead_reached(plan, series, s, now):
                continue
            people = people if people is not None else subscribers(s, series)
            expansion = self.expand_targets(plan, series, people)
            lead = max(expansion.lead.values(), default=timedelta(0))
            if plan.due_at - lead > now:
                continue  # not yet: a rate-limited channel starts `lead` before the due time
            fanout = record_fanout(s, session, plan, FanoutState.EXPANDED, now)
            self.insert_deliveries(s, fanout, plan, expansion, now)
            self._audit(s, now, series, "fanout.expanded", plan, targets=_count(expansion.targets))
            report.expanded.append(plan.key)
            if plan.kind == kinds.INVITATION:
                invited_at = now
            late = max(now, plan.due_at - lead) + lead > plan.due_at + LATE_WARNING
            if plan.kind in kinds.PUBLIC and lead > LATE_WARNING and late:
                self._warn_late(s, session, series, plan, expansion, now)
        if (
            invited_at is not None
            and session.status == SessionStatus.SCHEDULED.value
            and session.start_at > now
        ):
            report.added_late += self._add_late_joiners(s, session.id, series, now)

    def _lead_reached(self, plan: Planned, series: Series, s: Session, now: datetime) -> bool:
        """Whether a future message must start now to finish in time; estimates are cached a while."""
        cached = self._leads.get(plan.key)
        if cached is None or cached[0] + LEAD_CACHE < now:
            expansion = self.expand_targets(plan, series, subscribers(s, series))
            cached = (now, max(expansion.lead.values(), default=timedelta(0)))
            self._leads[plan.key] = cached
        return plan.due_at - cached[1] <= now

    def expand_targets(self, plan: Planned, series: Series, people: list[Recipient]) -> Expansion:
        view = SeriesView.of(series)
        targets: dict[str, list[Target]] = {}
        skipped: dict[str, list[Target]] = {}
        lead: dict[str, timedelta] = {}
        for sender in self.senders():
            chosen = sender.audience(plan.kind, view, people)
            by_person = {p.person_id: p for p in people}
            keep = [
                t
                for t in chosen
                if t.person_id is None or not too_recent(plan, by_person[t.person_id].subscribed_at)
            ]
            targets[sender.channel] = keep
            skipped[sender.channel] = [t for t in chosen if t not in keep]
            lead[sender.channel] = fanout_duration(sender, keep)
        return Expansion(targets, lead, skipped)

    def insert_deliveries(
        self, s: Session, fanout: Fanout, plan: Planned, expansion: Expansion, now: datetime
    ) -> None:
        rows: list[dict[str, Any]] = []
        for channel, targets in expansion.targets.items():
            start = max(now, plan.due_at - expansion.lead[channel])
            rows += [_row(fanout, channel, t, start, now) for t in targets]
            rows += [
                _row(
                    fanout,
                    channel,
                    t,
                    start,
                    now,
                    DeliveryState.SKIPPED,
                    "subscribed too recently for this reminder",
                )
                for t in expansion.skipped[channel]
            ]
        _insert_ignoring_duplicates(s, rows)

    def _add_late_joiners(self, s: Session, session_id: int, series: Series, now: datetime) -> int:
        """Subscribers who joined after the invitation went out get it too (the channel post they missed
        is not repeated: its target already exists)."""
        fanout = s.scalar(select(Fanout).where(Fanout.key == invitation_key(session_id)))
        if fanout is None or fanout.state != FanoutState.EXPANDED.value:
            return 0
        joined_since = s.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(
                Subscription.series_id == series.id,
                Subscription.active.is_(True),
                Subscription.consented_at >= fanout.created_at,
            )
        )
        if not joined_since:
            return 0
        known = set(s.scalars(select(Delivery.key).where(Delivery.fanout_id == fanout.id)))
        plan = Planned(fanout.key, fanout.kind, fanout.due_at)
        expansion = self.expand_targets(plan, series, subscribers(s, series))
        rows = [
            _row(fanout, channel, t, now, now)
            for channel, targets in expansion.targets.items()
            for t in targets
            if _key(fanout, channel, t) not in known
        ]
        _insert_ignoring_duplicates(s, rows)
        return len(rows)

    def _warn_late(
        self,
        s: Session,
        session: SessionRow,
        series: Series,
        plan: Planned,
        expansion: Expansion,
        now: datetime,
    ) -> None:
        channel, lead = max(expansion.lead.items(), key=lambda item: item[1])
        payload = {
            "about": plan.kind,
            "channel": channel,
            "count": len(expansion.targets[channel]),
            "minutes": int(lead.total_seconds() // 60) + 1,
            "finish": (now + lead).isoformat(),
            "start": session.start_at.isoformat(),
        }
        notify_organisers(
            s, self.senders(), series, session.id, kinds.LEAD_TIME_WARNING, f"{plan.key}:late", payload, now
        )
        log.warning("fan-out %s to %s recipients takes %s: later than due", plan.key, payload["count"], lead)

    def _audit(
        self, s: Session, now: datetime, series: Series, action: str, plan: Planned, **details: Any
    ) -> None:
        audit.record(
            Ctx(s, ENGINE, now, self.config),
            action,
            series_id=series.id,
            subject=("fanout", 0),
            key=plan.key,
            kind=plan.kind,
            **details,
        )


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
        _row(fanout, sender.channel, t, now, now)
        for sender in senders
        for t in sender.audience(plan.kind, view, people)
    ]
    _insert_ignoring_duplicates(s, rows)
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


def _key(fanout: Fanout, channel: str, target: Target) -> str:
    return f"{fanout.key}|{channel}|{target.target}"


def _row(
    fanout: Fanout,
    channel: str,
    target: Target,
    due: datetime,
    now: datetime,
    state: DeliveryState = DeliveryState.PENDING,
    note: str | None = None,
) -> dict[str, Any]:
    return {
        "key": _key(fanout, channel, target),
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


def _insert_ignoring_duplicates(s: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    for start in range(0, len(rows), 1000):
        stmt = insert(Delivery).values(rows[start : start + 1000])
        s.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


def _existing_keys(s: Session, session_id: int) -> set[str]:
    return set(s.scalars(select(Fanout.key).where(Fanout.session_id == session_id)))


def _invited_start(s: Session, session_id: int) -> str | None:
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


def _invited_at(s: Session, session_id: int) -> datetime | None:
    fanout = s.scalar(select(Fanout).where(Fanout.key == invitation_key(session_id)))
    if fanout is None or fanout.state != FanoutState.EXPANDED.value:
        return None
    return fanout.created_at


def _last_link_at(s: Session, session_id: int) -> datetime | None:
    return s.scalar(
        select(func.max(PresentationLink.added_at)).where(PresentationLink.session_id == session_id)
    )


def _count(targets: dict[str, list[Target]]) -> dict[str, int]:
    return {channel: len(items) for channel, items in targets.items()}
