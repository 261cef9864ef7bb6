"""When a channel as a whole cannot send (its credentials revoked, a permission missing) or one of
its targets cannot (the announcement channel archived): the pause and the resumption, each once.

The first send that meets the trouble holds the channel (or target) back for every process
(bot/delivery/holds.py), puts its row back unsent and uncounted, logs one line, writes the audit
row, and tells the series' organisers through every other channel, once per outage (the notice's
key names the channel, the target and the day the outage began). Rows of a held channel stay
pending; one probing send at a time finds out whether it works again, and the first that gets
through lifts the hold, so everything waiting goes out by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bot.db import Database
from bot.delivery import holds, kinds
from bot.delivery.channels import ChannelUnavailable, Sender
from bot.delivery.fanouts import notify_organisers
from bot.delivery.holds import Hold
from bot.delivery.outbox import ENGINE, Outbox
from bot.models import Organiser, Series
from bot.services import audit
from bot.services.context import CoreConfig, Ctx

log = logging.getLogger(__name__)


class Outages:
    def __init__(
        self,
        db: Database,
        config: CoreConfig,
        outbox: Outbox,
        senders: Callable[[], Sequence[Sender]],
        wake: Callable[[], None],
    ) -> None:
        self.db, self.config, self.outbox, self.senders, self.wake = db, config, outbox, senders, wake

    def unavailable(
        self, channel: str, delivery_id: int, exc: ChannelUnavailable, now: datetime, *, probe: bool
    ) -> None:
        """A send through `channel` met `exc`: its row waits, and the channel (or target) is held
        (`probe`: the send was the hold's probe, so the trouble lasts)."""
        target = holds.WHOLE if exc.target is None else exc.target
        told: list[str] = []
        with self.db.transaction() as s:
            self.outbox.held_in(s, delivery_id, now, f"held: {exc.reason}")
            new = holds.hold(s, channel, target, exc.problem, exc.reason, now, probe=probe)
            if new is not None:
                told = self._tell_organisers(s, new, now)
                self._audit(s, now, "channel.paused", new, told=told)
        if new is None:
            return
        log.error(
            "%s: sending paused%s: %s (%s); the messages wait; organisers told through %s",
            channel,
            "" if new.whole else f" to {target}",
            exc.reason,
            exc.problem,
            ", ".join(told) or "no other channel",
        )
        if told:
            self.wake()

    def got_through(self, channel: str, target: str, now: datetime) -> None:
        """A probing send to `target` got an answer about itself: the holds it disproves are lifted."""
        with self.db.transaction() as s:
            lifted = holds.lift(s, channel, target)
            for hold in lifted:
                self._audit(s, now, "channel.resumed", hold, paused_for=str(now - hold.began_at))
        for hold in lifted:
            where = "" if hold.whole else f" to {hold.target}"
            log.warning("%s: sending again%s (paused since %s)", channel, where, hold.began_at.isoformat())
        if lifted:
            self.wake()

    def probe_soon(self, now: datetime) -> None:
        """At start-up: probe held channels now (the restart may have brought new credentials)."""
        with self.db.transaction() as s:
            holds.probe_soon(s, [sender.channel for sender in self.senders()], now)

    def current(self) -> list[Hold]:
        with self.db.read() as s:
            return holds.current(s)

    def _tell_organisers(self, s: Session, hold: Hold, now: datetime) -> list[str]:
        """The notice to every series' organisers, through the channels that still work (a channel
        whose one target is held still reaches people directly). Returns those channels."""
        others = [x for x in self.senders() if x.channel != hold.channel or not hold.whole]
        payload = {
            "channel": hold.channel,
            "problem": hold.problem,
            "reason": hold.reason,
            "target": None if hold.whole else hold.target,
            "since": hold.began_at.isoformat(),
        }
        day = hold.began_at.date().isoformat()
        series = s.scalars(
            select(Series).where(exists().where(Organiser.series_id == Series.id)).order_by(Series.id)
        )
        for one in series:
            key = f"{kinds.CHANNEL_DOWN}:{hold.channel}:{hold.target[:100] or '*'}:{day}:{one.id}"
            notify_organisers(s, others, one, None, kinds.CHANNEL_DOWN, key, payload, now)
        return [x.channel for x in others]

    def _audit(self, s: Session, now: datetime, action: str, hold: Hold, **details: Any) -> None:
        audit.record(
            Ctx(s, ENGINE, now, self.config),
            action,
            channel=hold.channel,
            target=hold.target or None,
            problem=hold.problem,
            reason=hold.reason,
            **details,
        )
