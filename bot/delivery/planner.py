"""The planner (leader only): turns due messages into outbox rows, once, and warns organisers early.

For each session near in time it works out what is due (`schedule.planned_for`), skips what was
missed while the bot was down (with an audit note), and expands the rest into one `Delivery` per
channel × target. Rate-limited channels start early enough to finish by the due time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import Database
from bot.delivery import kinds
from bot.delivery.channels import Recipient, Sender, Target
from bot.delivery.fanouts import (
    delivery_key,
    delivery_row,
    existing_keys,
    fanout_duration,
    insert_ignoring_duplicates,
    invited_at,
    invited_start,
    last_link_at,
    notify_organisers,
    record_fanout,
)
from bot.delivery.outbox import ENGINE
from bot.delivery.recipients import subscribers
from bot.delivery.schedule import Planned, invitation_key, miss_reason, planned_for, too_recent
from bot.models import (
    Delivery,
    DeliveryState,
    Fanout,
    FanoutState,
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
                existing = existing_keys(s, session.id)
                invited = invited_start(s, session.id)
                for plan in planned_for(session, session.series, invited, last_link_at(s, session.id)):
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
        existing = existing_keys(s, session.id)
        invited = invited_start(s, session.id)
        invited_when = invited_at(s, session.id)
        plans = planned_for(session, series, invited, last_link_at(s, session.id))
        people: list[Recipient] | None = None
        for plan in plans:
            if plan.key in existing or plan.due_at > now + LOOKAHEAD:
                continue
            reason = miss_reason(plan, session, plans, now) if plan.due_at <= now else None
            if reason is None and plan.kind == kinds.REMINDER and invited_when and plan.due_at < invited_when:
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
                invited_when = now
            late = max(now, plan.due_at - lead) + lead > plan.due_at + LATE_WARNING
            if plan.kind in kinds.PUBLIC and lead > LATE_WARNING and late:
                self._warn_late(s, session, series, plan, expansion, now)
        if (
            invited_when is not None
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
            kept = set(keep)  # a set: membership by hash, not a scan per target
            skipped[sender.channel] = [t for t in chosen if t not in kept]
            lead[sender.channel] = fanout_duration(sender, keep)
        return Expansion(targets, lead, skipped)

    def insert_deliveries(
        self, s: Session, fanout: Fanout, plan: Planned, expansion: Expansion, now: datetime
    ) -> None:
        rows: list[dict[str, Any]] = []
        for channel, targets in expansion.targets.items():
            start = max(now, plan.due_at - expansion.lead[channel])
            rows += [delivery_row(fanout, channel, t, start, now) for t in targets]
            rows += [
                delivery_row(
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
        insert_ignoring_duplicates(s, rows)

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
            delivery_row(fanout, channel, t, now, now)
            for channel, targets in expansion.targets.items()
            for t in targets
            if delivery_key(fanout, channel, t) not in known
        ]
        insert_ignoring_duplicates(s, rows)
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


def _count(targets: dict[str, list[Target]]) -> dict[str, int]:
    return {channel: len(items) for channel, items in targets.items()}
