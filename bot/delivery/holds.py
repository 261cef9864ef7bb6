"""Channels held back, in SQL so every process keeps to them: `channel_hold`, one row per channel
(target "") or per target that cannot send now, or per family of targets (a target ending in "*"
holds every target that starts with what comes before it: Teams' "user:*" is every activity-feed
notification, which one app permission allows, while the channel's posts go on). While a hold
stands, its rows stay pending and only one probing send goes out at a time, at `probe_at`; the
probe interval grows from a minute to ten while the trouble lasts. A probe that gets through lifts
the hold (bot/delivery/outages.py decides what else happens then)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bot.db import dialect_insert
from bot.leases import rowcount
from bot.models import ChannelHold, Delivery

HOLD = cast(Table, ChannelHold.__table__)
D = cast(Table, Delivery.__table__)
WHOLE = ""  # the target of a hold on the whole channel
FAMILY = "*"  # a hold's target ending in this holds every target starting with the rest
FIRST_PROBE = timedelta(seconds=60)
LAST_PROBE = timedelta(minutes=10)


@dataclass(frozen=True)
class Hold:
    channel: str
    target: str  # WHOLE for the whole channel
    problem: str
    reason: str
    began_at: datetime
    probe_at: datetime
    probe_seconds: int

    @property
    def whole(self) -> bool:
        return self.target == WHOLE


def _hold(row: Any) -> Hold:
    return Hold(
        row.channel, row.target, row.problem, row.reason, row.began_at, row.probe_at, row.probe_seconds
    )


def covers(hold_target: str, target: str) -> bool:
    """Whether a hold on `hold_target` keeps back a send to `target`."""
    if hold_target in (WHOLE, target):
        return True
    return hold_target.endswith(FAMILY) and target.startswith(hold_target[: -len(FAMILY)])


def _of_family(hold_target: Any) -> ColumnElement[bool]:
    """The delivery row's target is of the family `hold_target` names (a column: no LIKE escaping)."""
    stem = func.length(hold_target) - len(FAMILY)
    return and_(
        hold_target.like("%" + FAMILY),
        func.substr(D.c.target, 1, stem) == func.substr(hold_target, 1, stem),
    )


def covering(hold_target: Any) -> ColumnElement[bool]:
    """A delivery row the hold with `hold_target` keeps back: the whole channel's, its target's or
    its family's."""
    return or_(hold_target == WHOLE, hold_target == D.c.target, _of_family(hold_target))


def under(hold: Hold) -> ColumnElement[bool]:
    """For the probe of `hold`: a row it keeps back (for a whole channel: one no other hold keeps)."""
    if hold.whole:
        return not_held_by_a_target()
    if hold.target.endswith(FAMILY):
        return D.c.target.startswith(hold.target[: -len(FAMILY)], autoescape=True)
    return D.c.target == hold.target


def not_held() -> ColumnElement[bool]:
    """For a claim: the delivery row is under no hold (a held row goes out only as a probe)."""
    return ~exists().where(HOLD.c.channel == D.c.channel, covering(HOLD.c.target))


def not_held_by_a_target() -> ColumnElement[bool]:
    """For the probe of a whole channel: a row whose own target (or family) is not held as well."""
    return ~exists().where(
        HOLD.c.channel == D.c.channel,
        HOLD.c.target != WHOLE,
        or_(HOLD.c.target == D.c.target, _of_family(HOLD.c.target)),
    )


def hold(
    s: Session, channel: str, target: str, problem: str, reason: str, now: datetime, *, probe: bool
) -> Hold | None:
    """Hold `channel` (or its `target`) back; the new hold, or None if it stood already. A `probe` that
    failed makes the next one wait twice as long, up to LAST_PROBE; a send that was under way when
    the hold began changes nothing."""
    insert = dialect_insert(s.get_bind().dialect.name)
    seconds = int(FIRST_PROBE.total_seconds())
    added = s.execute(
        insert(HOLD)
        .values(
            channel=channel,
            target=target,
            problem=problem,
            reason=reason[:200],
            began_at=now,
            probe_at=now + FIRST_PROBE,
            probe_seconds=seconds,
        )
        .on_conflict_do_nothing(index_elements=["channel", "target"])
        .returning(HOLD.c.channel)  # psycopg gives no rowcount for an INSERT (-1): the row tells
    )
    if added.first() is not None:
        return Hold(channel, target, problem, reason[:200], now, now + FIRST_PROBE, seconds)
    if not probe:
        return None
    mine = (HOLD.c.channel == channel, HOLD.c.target == target)
    current = s.scalar(select(HOLD.c.probe_seconds).where(*mine)) or seconds
    longer = min(current * 2, int(LAST_PROBE.total_seconds()))
    s.execute(
        update(HOLD)
        .where(*mine)
        .values(
            problem=problem,
            reason=reason[:200],
            probe_seconds=longer,
            probe_at=now + timedelta(seconds=longer),
        )
    )
    return None


def lift(s: Session, channel: str, target: str) -> list[Hold]:
    """A send to `target` got through: the holds it proves wrong (the channel's, the target's, its
    family's) go."""
    standing = s.scalars(select(HOLD.c.target).where(HOLD.c.channel == channel)).all()
    wrong = [held for held in standing if covers(held, target)]
    if not wrong:
        return []
    return [
        _hold(row)
        for row in s.execute(
            delete(HOLD).where(HOLD.c.channel == channel, HOLD.c.target.in_(wrong)).returning(*HOLD.c)
        )
    ]


def due_for_probe(s: Session, channel: str, now: datetime) -> list[Hold]:
    """The channel's holds whose probe is due, each moved on by its interval in the same step (the
    guarded update makes one claimer, in one process, the prober)."""
    due = [
        _hold(row) for row in s.execute(select(HOLD).where(HOLD.c.channel == channel, HOLD.c.probe_at <= now))
    ]
    taken = []
    for found in due:
        moved = s.execute(
            update(HOLD)
            .where(
                HOLD.c.channel == channel,
                HOLD.c.target == found.target,
                HOLD.c.probe_at == found.probe_at,
            )
            .values(probe_at=now + timedelta(seconds=found.probe_seconds))
        )
        if rowcount(moved):
            taken.append(found)
    return taken


def probe_soon(s: Session, channels: list[str], now: datetime) -> None:
    """Probe the held channels at once (a restart may come with new credentials)."""
    s.execute(update(HOLD).where(HOLD.c.channel.in_(channels), HOLD.c.probe_at > now).values(probe_at=now))


def next_probe(s: Session, channel: str) -> datetime | None:
    return s.scalar(select(HOLD.c.probe_at).where(HOLD.c.channel == channel).order_by(HOLD.c.probe_at))


def current(s: Session) -> list[Hold]:
    return [_hold(row) for row in s.execute(select(HOLD).order_by(HOLD.c.channel, HOLD.c.target))]
