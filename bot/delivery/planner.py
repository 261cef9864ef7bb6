"""The planner (leader only): turns due messages into outbox rows, once, and warns organisers early.

For each session near in time it works out what is due (`schedule.planned_for`), skips what was
missed while the bot was down (with an audit note), and expands the rest into one `Delivery` per
channel × target. Rate-limited channels start early enough to finish by the due time.

A pass reads all those sessions and their history in a few queries and opens a transaction only for
a session with something to do. Each series' subscribers are read at most once a pass, and only when
needed: a cheap stamp of them tells whether a lead estimate or a late-joiner check still holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from bot.db import Database
from bot.delivery import kinds
from bot.delivery.channels import CountingSender, Recipient, Sender, Target
from bot.delivery.fanouts import (
    Invitation,
    Snapshot,
    delivery_key,
    delivery_row,
    fanout_duration,
    insert_ignoring_duplicates,
    notify_organisers,
    paced_duration,
    record_fanout,
    snapshots,
)
from bot.delivery.headcount import headcount
from bot.delivery.outbox import ENGINE
from bot.delivery.reach import unreached_among
from bot.delivery.recipients import Audience, AudienceStamp
from bot.delivery.schedule import Planned, miss_reason, recent_after, too_recent
from bot.models import Delivery, DeliveryState, Fanout, FanoutState, Series, SessionStatus
from bot.models import Session as SessionRow
from bot.services import audit
from bot.services.context import CoreConfig, Ctx
from bot.views import SeriesView

log = logging.getLogger(__name__)

# How far ahead the planner looks: the longest fan-out it can start early for.
LOOKAHEAD = timedelta(hours=24)
LATE_WARNING = timedelta(minutes=5)
LEAD_CACHE = timedelta(minutes=5)
ROWS_PER_INSERT = 500
# A fan-out is expanded this long before its first send is due (its rows due then, not earlier):
# writing 12,000 rows takes a second or more, which otherwise delayed the first send by as much.
EXPAND_AHEAD = timedelta(seconds=5)

# What an estimate or a check was made from: the series' subscribers (stamp) and the channels.
Basis = tuple[AudienceStamp, tuple[str, ...]]


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


@dataclass(frozen=True)
class Lead:
    """How long a message's fan-out takes (as estimated `at`), and what the estimate was made from."""

    at: datetime
    duration: timedelta
    basis: Basis


@dataclass(frozen=True)
class Verdict:
    """What a pass does with a message now: skip it (and why), or expand it."""

    skip: str | None = None


EXPAND = Verdict()


@dataclass
class Pass:
    """One planning pass: its moment, its report, and what it read or worked out once for all."""

    now: datetime
    report: PlanReport = field(default_factory=PlanReport)
    audience: Audience = field(default_factory=Audience)
    expansions: dict[str, Expansion] = field(default_factory=dict)  # plan key → expansion
    checked: dict[int, Basis] = field(default_factory=dict)  # late joiners, until committed


class Planner:
    def __init__(self, db: Database, config: CoreConfig, senders: Callable[[], Sequence[Sender]]) -> None:
        self.db, self.config, self.senders = db, config, senders
        self._leads: dict[str, Lead] = {}
        # Invitation fan-out id → the basis of its last late-joiner check (all added since).
        self._joiners_checked: dict[int, Basis] = {}

    def run(self, now: datetime, audience: Audience | None = None) -> PlanReport:
        """`audience`: the subscribers' reads to share with what follows the pass (the mail caps)."""
        p = Pass(now, audience=audience or Audience())
        with self.db.read() as s:
            found = snapshots(s, *_window(now))
            busy = [snap.session.id for snap in found if self._has_work(s, snap, p)]
        self._forget_all_but(found)
        for session_id in busy:
            with self.db.transaction() as s:
                for snap in snapshots(s, SessionRow.id == session_id):
                    self._plan_session(s, snap, p)
            self._joiners_checked.update(p.checked)  # only once committed
            p.checked.clear()
        return p.report

    def _forget_all_but(self, found: list[Snapshot]) -> None:
        """Drop what was kept about messages and invitations that left the window."""
        keys = {plan.key for snap in found for plan in snap.plans()}
        invitations = {snap.facts.invitation.fanout_id for snap in found if snap.facts.invitation}
        self._leads = {key: lead for key, lead in self._leads.items() if key in keys}
        self._joiners_checked = {k: v for k, v in self._joiners_checked.items() if k in invitations}

    def next_due(self, now: datetime) -> datetime | None:
        """The next moment something becomes due (for a precise wake-up), within the lookahead."""
        soonest: datetime | None = None
        with self.db.read() as s:
            found = snapshots(s, *_window(now))
        for snap in found:
            for plan in snap.plans():
                # A rate-limited fan-out starts its lead time before the due moment.
                lead = self._leads.get(plan.key)
                start = plan.due_at - (lead.duration if lead else timedelta(0)) - EXPAND_AHEAD
                if plan.key not in snap.facts.existing and start > now:
                    soonest = start if soonest is None else min(soonest, start)
        return soonest

    def overdue_since(self, now: datetime) -> datetime | None:
        """Since when the oldest message that is due is waiting to be planned (expanded or skipped):
        how far the planner is behind, as any process can tell from the database. A message
        waits from its due time, or from the session's last change if that came later (a session
        planned at short notice is due at once, not late)."""
        with self.db.read() as s:
            found = snapshots(s, *_window(now))
        due = [
            max(plan.due_at, snap.session.updated_at)
            for snap in found
            for plan in snap.plans()
            if plan.key not in snap.facts.existing and plan.due_at <= now
        ]
        return min(due, default=None)

    def _has_work(self, s: Session, snap: Snapshot, p: Pass) -> bool:
        """Whether `_plan_session` would write anything for this session now (reads only)."""
        plans = snap.plans()
        invitation = snap.facts.invitation
        invited_when = invitation.at if invitation else None
        if any(self._verdict(s, snap, plans, plan, invited_when, p) is not None for plan in plans):
            return True
        return invitation is not None and self._joiners_due(s, snap.session, invitation, p)

    def _verdict(
        self,
        s: Session,
        snap: Snapshot,
        plans: list[Planned],
        plan: Planned,
        invited_when: datetime | None,
        p: Pass,
    ) -> Verdict | None:
        """What to do with `plan` now; None: nothing (done already, or not due yet)."""
        now = p.now
        if plan.key in snap.facts.existing or plan.due_at > now + LOOKAHEAD:
            return None
        reason = skip_reason(snap, plans, plan, invited_when, now)
        if reason is not None:
            return Verdict(skip=reason)
        if plan.due_at > now and not self._lead_reached(s, plan, snap.session.series, p):
            return None
        return EXPAND

    def _plan_session(self, s: Session, snap: Snapshot, p: Pass) -> None:
        session, series, now, report = snap.session, snap.session.series, p.now, p.report
        invitation = snap.facts.invitation
        plans = snap.plans()
        for plan in plans:
            invited_when = invitation.at if invitation else None
            verdict = self._verdict(s, snap, plans, plan, invited_when, p)
            if verdict is None:
                continue
            if verdict.skip is not None:
                record_fanout(s, session, plan, FanoutState.SKIPPED, now, note=verdict.skip)
                self._audit(s, now, series, "fanout.skipped", plan, reason=verdict.skip)
                report.skipped.append(plan.key)
                continue
            expansion = self._expansion(s, plan, series, p)
            lead = max(expansion.lead.values(), default=timedelta(0))
            if plan.due_at - lead > now + EXPAND_AHEAD:
                continue  # not yet: a rate-limited channel starts `lead` before the due time
            fanout = record_fanout(s, session, plan, FanoutState.EXPANDED, now)
            self.insert_deliveries(s, fanout, plan, expansion, now)
            self._audit(s, now, series, "fanout.expanded", plan, targets=_count(expansion.targets))
            report.expanded.append(plan.key)
            if plan.kind == kinds.INVITATION:
                invitation = Invitation(fanout.id, now)
                self._warn_unreached(s, session, series, plan, p.audience.people(s, series), now)
            late = max(now, plan.due_at - lead) + lead > plan.due_at + LATE_WARNING
            if plan.kind in kinds.PUBLIC and lead > LATE_WARNING and late:
                self._warn_late(s, session, series, plan, expansion, now)
        if invitation is not None:
            report.added_late += self._add_late_joiners(s, session, invitation, p)

    def _lead_reached(self, s: Session, plan: Planned, series: Series, p: Pass) -> bool:
        """Whether a future message must start now to finish in time. An estimate is kept a while,
        then renewed: unchanged if the subscribers are (their stamp says so), else made afresh."""
        cached = self._leads.get(plan.key)
        if cached is None or cached.at + LEAD_CACHE < p.now:
            basis = self._basis(p.audience.stamp(s, series))
            if cached is not None and cached.basis == basis:
                duration = cached.duration
            else:
                duration = self._estimate(s, plan, series, p)
            cached = Lead(p.now, duration, basis)
            self._leads[plan.key] = cached
        return plan.due_at - cached.duration <= p.now + EXPAND_AHEAD

    def _estimate(self, s: Session, plan: Planned, series: Series, p: Pass) -> timedelta:
        """How long the message's fan-out takes, as its expansion would say: from the subscribers'
        counts when every sender can tell its sends from them (no list of everyone, no target
        made: their memory would stay with the process), else from the expansion."""
        senders = self.senders()
        counting = [sender for sender in senders if isinstance(sender, CountingSender)]
        if len(counting) < len(senders):
            return max(self._expansion(s, plan, series, p).lead.values(), default=timedelta(0))
        counts = headcount(s, series, recent_after(plan))
        view = SeriesView.of(series)
        leads = (paced_duration(sender.paced_sends(plan.kind, view, counts)) for sender in counting)
        return max(leads, default=timedelta(0))

    def _expansion(self, s: Session, plan: Planned, series: Series, p: Pass) -> Expansion:
        """`expand_targets` to the pass's subscribers, once per message and pass."""
        if plan.key not in p.expansions:
            p.expansions[plan.key] = self.expand_targets(plan, series, p.audience.people(s, series))
        return p.expansions[plan.key]

    def _basis(self, stamp: AudienceStamp) -> Basis:
        return stamp, tuple(sender.channel for sender in self.senders())

    def expand_targets(self, plan: Planned, series: Series, people: list[Recipient]) -> Expansion:
        view = SeriesView.of(series)
        targets: dict[str, list[Target]] = {}
        skipped: dict[str, list[Target]] = {}
        lead: dict[str, timedelta] = {}
        by_person = {p.person_id: p for p in people}
        for sender in self.senders():
            chosen = sender.audience(plan.kind, view, people)
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
        skipped = DeliveryState.SKIPPED
        too_recent = "subscribed too recently for this reminder"
        for channel, targets in expansion.targets.items():
            start = max(now, plan.due_at - expansion.lead[channel])
            # A chunk at a time: a large fan-out's rows never all sit in memory at once (the peak
            # would stay with the process as freed but unreturned memory).
            for chunk in _chunks(targets):
                insert_ignoring_duplicates(s, [delivery_row(fanout, channel, t, start, now) for t in chunk])
            for chunk in _chunks(expansion.skipped[channel]):
                rows = [delivery_row(fanout, channel, t, start, now, skipped, too_recent) for t in chunk]
                insert_ignoring_duplicates(s, rows)

    def _joiners_due(self, s: Session, session: SessionRow, invitation: Invitation, p: Pass) -> bool:
        """Whether someone may be owed the invitation: the session is still ahead, someone subscribed
        since the invitation went out, and the subscribers changed since the last check."""
        if session.status != SessionStatus.SCHEDULED.value or session.start_at <= p.now:
            return False
        stamp = p.audience.stamp(s, session.series)
        if stamp.latest_consent is None or stamp.latest_consent < invitation.at:
            return False
        return self._joiners_checked.get(invitation.fanout_id) != self._basis(stamp)

    def _add_late_joiners(self, s: Session, session: SessionRow, invitation: Invitation, p: Pass) -> int:
        """Subscribers who joined after the invitation went out get it too (the channel post they missed
        is not repeated: its target already exists)."""
        if not self._joiners_due(s, session, invitation, p):
            return 0
        series, now = session.series, p.now
        basis = self._basis(p.audience.stamp(s, series))
        fanout = s.get_one(Fanout, invitation.fanout_id)
        known = set(s.scalars(select(Delivery.key).where(Delivery.fanout_id == fanout.id)))
        plan = Planned(fanout.key, fanout.kind, fanout.due_at)
        expansion = self._expansion(s, plan, series, p)
        rows = [
            delivery_row(fanout, channel, t, now, now)
            for channel, targets in expansion.targets.items()
            for t in targets
            if delivery_key(fanout.key, channel, t.target) not in known
        ]
        insert_ignoring_duplicates(s, rows)
        p.checked[fanout.id] = basis
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

    def _warn_unreached(
        self,
        s: Session,
        session: SessionRow,
        series: Series,
        plan: Planned,
        people: list[Recipient],
        now: datetime,
    ) -> None:
        """As the invitation goes out: tell the organisers (once) how many subscribers no configured
        channel reaches, so they are not left out in silence."""
        missed = len(unreached_among(people, SeriesView.of(series), self.senders()))
        if not missed:
            return
        payload = {"about": plan.kind, "count": missed}
        key = f"{plan.key}:unreached"
        if notify_organisers(s, self.senders(), series, session.id, kinds.UNREACHED, key, payload, now):
            log.warning("%s: %s subscribers no configured channel reaches; organisers told", plan.key, missed)

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


def skip_reason(
    snap: Snapshot, plans: list[Planned], plan: Planned, invited_when: datetime | None, now: datetime
) -> str | None:
    """Why the planner skips `plan` instead of sending it (it was missed), or None. `invited_when`:
    when the invitation went out (or goes out in this pass), None if it has not."""
    reason = miss_reason(plan, snap.session, plans, now) if plan.due_at <= now else None
    if reason is None and plan.kind == kinds.REMINDER and invited_when and plan.due_at < invited_when:
        reason = "missed: the invitation went out after this reminder's time"
    return reason


def _window(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The sessions a pass looks at: a month back (follow-ups), two months ahead."""
    return (
        SessionRow.start_at <= now + timedelta(days=62),
        SessionRow.start_at >= now - timedelta(days=32),
    )


def _count(targets: dict[str, list[Target]]) -> dict[str, int]:
    return {channel: len(items) for channel, items in targets.items()}


def _chunks(targets: list[Target]) -> Iterator[list[Target]]:
    for start in range(0, len(targets), ROWS_PER_INSERT):
        yield targets[start : start + ROWS_PER_INSERT]
