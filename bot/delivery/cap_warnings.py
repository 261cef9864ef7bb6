"""Telling organisers ahead when their mail will not fit a transport's daily recipient cap.

After each planning pass (leader only) the schedule ahead is weighed against each cap
(`daily_caps.overruns`); each session in an overrun gets one notice to its series' organisers,
through the channels they use, as soon as the session is planned: long before its invitation, let
alone the reminders, fall due. Worked out again only when what decides it changed (the sessions,
what went out for them, the subscribers, the channels). With a worker process, the leading front
nudges its worker to weigh them after each pass (`DeliveryEngine.weigh_caps_elsewhere`): a
weighing reads every subscriber, which the front's acks should not wait for."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.db import Database
from bot.delivery import kinds
from bot.delivery.channels import Sender
from bot.delivery.daily_caps import Overrun, capped, overruns, planned_loads
from bot.delivery.fanouts import notify_organisers, snapshots
from bot.delivery.recipients import Audience
from bot.models import Session as SessionRow

log = logging.getLogger(__name__)

# As far ahead as the planner looks at sessions: a session planned within it is weighed at once.
AHEAD = timedelta(days=62)


def warning_key(session_id: int) -> str:
    return f"s{session_id}:mail-cap"


def overruns_ahead(s: Session, senders: Sequence[Sender], now: datetime) -> list[Overrun]:
    """The overruns of the schedule ahead (for `deliveries plan` and `series show` too)."""
    if not capped(senders):
        return []
    found = snapshots(s, SessionRow.start_at <= now + AHEAD, SessionRow.start_at >= now - timedelta(days=32))
    return overruns(planned_loads(s, senders, found, now))


class CapWarnings:
    def __init__(self, db: Database, senders: Callable[[], Sequence[Sender]]) -> None:
        self.db, self.senders = db, senders
        self._basis: object = None
        self.weighings = 0  # how many times the schedule was weighed (the basis had changed)

    def check(self, now: datetime, audience: Audience | None = None) -> int:
        """Notify the organisers of each session newly in an overrun; returns how many were told.
        `audience`: the planning pass's, whose stamps it reuses (read anew for the other series)."""
        senders = self.senders()
        if not capped(senders):
            return 0
        with self.db.read() as s:
            basis = self._basis_of(s, senders, now, audience or Audience())
            if basis == self._basis:
                return 0
            found = overruns_ahead(s, senders, now)
            self.weighings += 1
        told = 0
        for overrun in found:
            for load in overrun.loads:
                with self.db.transaction() as s:
                    session = s.get(SessionRow, load.session_id)
                    if session is None:
                        continue
                    payload = _payload(overrun, load.session_id)
                    key = warning_key(load.session_id)
                    if notify_organisers(
                        s, senders, session.series, session.id, kinds.MAIL_CAP_WARNING, key, payload, now
                    ):
                        told += 1
                        log.warning(
                            "session %s: %s mail recipients within 24 h, over the cap of %s; organisers told",
                            session.id,
                            overrun.recipients,
                            overrun.cap.recipients,
                        )
        self._basis = basis
        return told

    def _basis_of(self, s: Session, senders: Sequence[Sender], now: datetime, audience: Audience) -> object:
        """What the answer depends on: sessions ahead (and their changes and fan-outs), subscribers,
        channels; the day, so that a message moving into the past is weighed again. A stamp the pass
        read before a change that came since only has that change weighed at the next pass."""
        found = snapshots(
            s, SessionRow.start_at <= now + AHEAD, SessionRow.start_at >= now - timedelta(days=32)
        )
        sessions = tuple((x.session.id, x.session.updated_at, x.facts.existing) for x in found)
        series = {x.session.series.id: x.session.series for x in found}
        stamps = tuple((sid, audience.stamp(s, one)) for sid, one in sorted(series.items()))
        channels = tuple(sender.channel for sender in senders)
        return sessions, stamps, channels, now.date()


def _payload(overrun: Overrun, session_id: int) -> dict[str, Any]:
    mine = [load for load in overrun.loads if load.session_id == session_id]
    return {
        "channel": overrun.channel,
        "cap": overrun.cap.recipients,
        "recipients": overrun.recipients,
        "from": overrun.start.isoformat(),
        "to": overrun.end.isoformat(),
        "messages": [load.kind for load in mine],
        "others": len(overrun.sessions) - 1,  # other sessions (of any series) sharing the day
    }
