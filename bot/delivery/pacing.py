"""Send slots per rate-limited key, reserved in the database so every process shares one pace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.delivery.channels import Pace
from bot.models import PacingSlot


def reserve(s: Session, paces: Sequence[Pace], now: datetime) -> datetime:
    """The earliest moment a send may go out under all `paces`; books it (one slot per key)."""
    if not paces:
        return now
    keys = sorted({p.key for p in paces})
    _ensure_rows(s, keys, now)
    rows = {
        row.key: row
        for row in s.scalars(select(PacingSlot).where(PacingSlot.key.in_(keys)).with_for_update())
    }
    slot = max([now, *(rows[k].next_at for k in keys)])
    for pace in paces:
        rows[pace.key].next_at = max(rows[pace.key].next_at, slot + pace.interval)
    return slot


def push_back(s: Session, paces: Sequence[Pace], until: datetime) -> None:
    """After a 429: nobody sends on these keys before `until`."""
    keys = sorted({p.key for p in paces})
    if not keys:
        return
    _ensure_rows(s, keys, until)
    for row in s.scalars(select(PacingSlot).where(PacingSlot.key.in_(keys)).with_for_update()):
        row.next_at = max(row.next_at, until)


def _ensure_rows(s: Session, keys: Sequence[str], now: datetime) -> None:
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(PacingSlot).values([{"key": k, "next_at": now} for k in keys])
    s.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
