"""Claims with a lease: what the inbox (requests to carry out) and the outbox (messages to send) share.

A worker claims waiting rows by reading the first few with `FOR UPDATE SKIP LOCKED` (PostgreSQL:
claimers skip each other's rows; SQLite: the transaction began IMMEDIATE, holding the write lock, so
two claimers wait for each other instead of failing), then writing its claim token and a lease into
those still waiting, whatever the isolation level. (One UPDATE with the SELECT as an `IN` subquery
is not enough on PostgreSQL: the planner may run the subquery more than once, and with SKIP LOCKED
each run finds other rows, so more than `limit` are taken.) A worker that dies leaves its rows with
a lease that runs out; `take_back` returns them to the others.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    CursorResult,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    select,
    update,
)
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class LeasedTable:
    """A table whose rows are claimed: its state, claim token and lease columns."""

    table: Table

    @property
    def state(self) -> Column[Any]:
        return self.table.c.state

    @property
    def claimed_by(self) -> Column[Any]:
        return self.table.c.claimed_by

    @property
    def lease_until(self) -> Column[Any]:
        return self.table.c.lease_until

    def expired(self, now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """Rows whose lease ran out (a row never leased has none to run out)."""
        return self.lease_until.is_not(None), self.lease_until < now

    def claim(
        self,
        s: Session,
        *,
        waiting: Sequence[ColumnElement[bool]],
        order_by: Sequence[ColumnElement[Any] | Column[Any]],
        limit: int,
        values: dict[str, Any],
        returning: Sequence[Column[Any]],
    ) -> list[Row[Any]]:
        """Take up to `limit` rows matching `waiting`, first by `order_by`, setting `values` (the
        claimed state, token and lease); returns the `returning` columns of the rows taken, in order.
        Run it in a writing transaction (`Database.transaction`)."""
        candidates = s.execute(
            select(self.table.c.id, *returning)
            .where(*waiting)
            .order_by(*order_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not candidates:
            return []
        taken = set(
            s.scalars(
                update(self.table)
                .where(self.table.c.id.in_([row.id for row in candidates]), *waiting)
                .values(**values)
                .returning(self.table.c.id)
            )
        )
        return [row for row in candidates if row.id in taken]

    def prepared_claim(
        self,
        *,
        waiting: Sequence[ColumnElement[bool]],
        order_by: Sequence[ColumnElement[Any] | Column[Any]],
        values: dict[str, Any],
        returning: Sequence[Column[Any]],
    ) -> PreparedClaim:
        """`claim`'s statements built once, for a hot path (building them was a fifth of a claim's
        CPU): `waiting` and `values` take bound parameters, given with the bound `limit` at each
        call of the PreparedClaim."""
        return PreparedClaim(
            select(self.table.c.id, *returning)
            .where(*waiting)
            .order_by(*order_by)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True),
            update(self.table)
            .where(self.table.c.id.in_(bindparam("ids", expanding=True)), *waiting)
            .values(**values)
            .returning(self.table.c.id),
        )

    def renew(self, s: Session, ids: Sequence[int], state: str, token: str, until: datetime) -> int:
        """Extend this claimer's lease on rows it still holds in `state`."""
        if not ids:
            return 0
        return rowcount(
            s.execute(
                update(self.table)
                .where(self.table.c.id.in_(ids), self.state == state, self.claimed_by == token)
                .values(lease_until=until)
            )
        )

    def take_back(self, s: Session, now: datetime, from_state: str, **values: Any) -> int:
        """Rows in `from_state` whose lease ran out (their worker died) get `values` and lose their
        claim; returns how many."""
        return rowcount(
            s.execute(
                update(self.table)
                .where(self.state == from_state, *self.expired(now))
                .values(claimed_by=None, lease_until=None, **values)
                .execution_options(synchronize_session=False)
            )
        )


@dataclass(frozen=True)
class PreparedClaim:
    """`LeasedTable.claim` with statements built once (`LeasedTable.prepared_claim`)."""

    candidates: Select[Any]
    take: Update

    def __call__(self, conn: Connection, params: Mapping[str, Any]) -> list[Row[Any]]:
        """Take up to `params["limit"]` rows, as `LeasedTable.claim`, on a connection in a writing
        transaction (`Database.statements`)."""
        candidates = conn.execute(self.candidates, params).all()
        if not candidates:
            return []
        taken = set(conn.execute(self.take, {**params, "ids": [row.id for row in candidates]}).scalars())
        return [row for row in candidates if row.id in taken]


class ClaimTokens:
    """Claim tokens of one worker: its name (process and a random part), and a counter per claim."""

    def __init__(self, prefix: str) -> None:
        self.name = f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._numbers = itertools.count(1)

    def next(self, limit: int = 60) -> str:
        return f"{self.name}/{next(self._numbers)}"[:limit]


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
