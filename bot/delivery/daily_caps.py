"""Whether the mail planned ahead fits each transport's daily recipient cap (Exchange Online: 10,000
recipients in any 24 hours per mailbox), worked out from the planner's own schedule: every message
not yet expanded (invitation, reminders, follow-up), of every series sharing the mailbox, at its due
time, with the recipients each sender counts for it. A window of 24 hours over the cap is an overrun:
what does not fit waits until the day has room, so a reminder may come late or not at all, and the
organisers are told ahead (the planner, `deliveries plan`, `series show`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.delivery.ahead import plans_ahead
from bot.delivery.channels import CappedSender, DailyCap, Sender
from bot.delivery.fanouts import Snapshot
from bot.delivery.headcount import headcount
from bot.views import SeriesView

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Load:
    """One planned message's recipients against one cap."""

    cap: DailyCap
    channel: str
    series_id: int
    session_id: int
    kind: str
    due_at: datetime
    recipients: int


@dataclass(frozen=True)
class Overrun:
    """Messages due within 24 hours (`start` to `end`) whose recipients exceed the cap."""

    cap: DailyCap
    channel: str
    start: datetime
    end: datetime
    recipients: int
    loads: tuple[Load, ...]

    @property
    def sessions(self) -> list[int]:
        return sorted({load.session_id for load in self.loads})

    def as_json(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "cap": self.cap.recipients,
            "recipients": self.recipients,
            "from_utc": self.start.isoformat(),
            "to_utc": self.end.isoformat(),
            "sessions": self.sessions,
            "messages": [f"{load.session_id}:{load.kind}" for load in self.loads],
        }


def capped(senders: Sequence[Sender]) -> list[CappedSender]:
    return [sender for sender in senders if isinstance(sender, CappedSender)]


def planned_loads(
    s: Session, senders: Sequence[Sender], found: Sequence[Snapshot], now: datetime
) -> list[Load]:
    """The recipients of every message still to be expanded, per capped sender (none: no query),
    from each series' headcount: no list of everyone, whose memory the process would keep."""
    with_caps = capped(senders)
    if not with_caps:
        return []
    loads: list[Load] = []
    for item in plans_ahead(s, found, now, headcount):
        series, kind = item.snap.session.series, item.plan.kind
        view = SeriesView.of(series)
        for sender in with_caps:
            if n := sender.daily_load(kind, view, item.audience):
                cap, channel = sender.daily_cap, sender.channel
                loads.append(Load(cap, channel, series.id, item.snap.session.id, kind, item.due_at, n))
    return loads


def overruns(loads: Sequence[Load]) -> list[Overrun]:
    """Every 24-hour window of each cap whose loads exceed it, the fullest first; a window whose
    messages a fuller one holds already is left out."""
    found: list[Overrun] = []
    by_cap: dict[str, list[Load]] = {}
    for load in loads:
        by_cap.setdefault(load.cap.key, []).append(load)
    for group in by_cap.values():
        group.sort(key=lambda load: load.due_at)
        for i, first in enumerate(group):
            window = [load for load in group[i:] if load.due_at < first.due_at + DAY]
            total = sum(load.recipients for load in window)
            if total > first.cap.recipients:
                end = window[-1].due_at
                found.append(Overrun(first.cap, first.channel, first.due_at, end, total, tuple(window)))
    found.sort(key=lambda o: (-o.recipients, o.start))
    kept: list[Overrun] = []
    for overrun in found:
        if not any(set(overrun.loads) <= set(k.loads) for k in kept):
            kept.append(overrun)
    return sorted(kept, key=lambda o: o.start)
