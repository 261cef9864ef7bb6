"""Send slots per rate-limited key, reserved in the database so every process shares one pace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from bot.db import insert_ignoring
from bot.delivery.channels import Pace
from bot.models import PacingSlot

SLOT = cast(Table, PacingSlot.__table__)
_ADD = insert_ignoring(SLOT, "key")
_LOCK = (
    select(SLOT.c.key, SLOT.c.next_at)
    .where(SLOT.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(SLOT.c.key)  # PostgreSQL locks the rows in this order: two bookings never deadlock
    .with_for_update()
)
_MOVE = update(SLOT).where(SLOT.c.key == bindparam("k")).values(next_at=bindparam("at"))


def reserve(s: Session, paces: Sequence[Pace], now: datetime) -> datetime:
    """The earliest moment a send may go out under all `paces`; books it. Each key keeps the moment
    its steady pace is at (`next_at`, the "theoretical arrival time" of the generic cell rate
    algorithm); a send may go `tolerance` ahead of it, and moves it on by one interval."""
    return reserve_each(s, [paces], now)[0]


def reserve_each(
    s: Session, sends: Sequence[Sequence[Pace]], now: datetime, *, within: timedelta | None = None
) -> list[datetime]:
    """`reserve` for several sends one after the other, each under its own paces, with one read and
    one write of their keys. With `within`, booking ends after the first slot further than that
    from `now` (booked too): the slots of the sends booked, in order, at least one."""
    every = [pace for paces in sends for pace in paces]
    current = _locked(s, every, now) if every else {}
    before = dict(current)
    slots: list[datetime] = []
    for paces in sends:
        by_key = {p.key: p for p in paces}
        slot = max([now, *(current[k] - p.tolerance for k, p in by_key.items())])
        for key, pace in by_key.items():
            current[key] = max(current[key], slot) + pace.interval
        slots.append(slot)
        if within is not None and slot - now > within:
            break
    _move(s, {k: at for k, at in current.items() if at != before[k]})
    return slots


def push_back(s: Session, paces: Sequence[Pace], until: datetime) -> None:
    """After a 429: nobody sends on these keys before `until`."""
    if not paces:
        return
    current = _locked(s, paces, until)
    # A burst's tolerance must not reach back before `until`.
    held = {p.key: until + p.tolerance for p in paces}
    _move(s, {k: held[k] for k, at in current.items() if at < held[k]})


def _locked(s: Session, paces: Sequence[Pace], now: datetime) -> dict[str, datetime]:
    """Each key's next free moment, its row created if new and locked until the transaction ends
    (FOR UPDATE on PostgreSQL; on SQLite a writing transaction holds the database's write lock).

    The rows are read first and only keys never seen are inserted (then read, locked, as the
    others): every send books a slot, and the keys almost always exist, so most sends save a
    statement (about 80 µs of CPU a booking on SQLite)."""
    keys = sorted({p.key for p in paces})
    found = {key: at for key, at in s.execute(_LOCK, {"keys": keys})}
    missing = [k for k in keys if k not in found]
    if missing:  # another process may insert the same key meanwhile: its row is kept
        s.execute(_ADD[s.get_bind().dialect.name], [{"key": k, "next_at": now} for k in missing])
        found.update({key: at for key, at in s.execute(_LOCK, {"keys": missing})})
    return found


def _move(s: Session, moved: dict[str, datetime]) -> None:
    if moved:
        s.execute(_MOVE, [{"k": k, "at": at} for k, at in sorted(moved.items())])
