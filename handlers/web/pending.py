"""Requests waiting for the click in their confirmation mail (double opt-in, leave, erase).

The mailed link holds a signed random key; only its hash is stored here, next to the address, so
the address never appears in a URL. Rows go once expired; a confirmed row forgets the address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.core import Core
from bot.services.people import normalise_email
from bot.tokens import CONFIRM_VALID_FOR, new_confirm_token
from handlers.web.models import PendingConfirmation

SUBSCRIBE = "subscribe"
ERASE = "erase"
LEAVE = "leave"  # leaving a series without a personal link: the address proves itself by the click


@dataclass(frozen=True)
class Pending:
    id: int
    purpose: str
    email: str | None
    name: str | None
    language: str | None
    series_id: int | None
    confirmed_at: datetime | None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


def create(
    core: Core,
    purpose: str,
    email: str,
    *,
    name: str | None = None,
    language: str | None = None,
    series_id: int | None = None,
    then: Callable[[Session, int, str], None] | None = None,
) -> str:
    """Store a request and return the token for its confirmation link; `then(s, id, token)` runs in
    the same transaction (queueing the mail that carries the link: both happen, or neither)."""
    purge_expired(core)
    with core.db.transaction() as s:
        request_id, token = add(s, core, purpose, email, name=name, language=language, series_id=series_id)
        if then is not None:
            then(s, request_id, token)
    return token


def add(
    s: Session,
    core: Core,
    purpose: str,
    email: str,
    *,
    name: str | None = None,
    language: str | None = None,
    series_id: int | None = None,
) -> tuple[int, str]:
    """`create` inside the caller's transaction: the new request's id and its link's token."""
    now = core.clock.now()
    token, token_hash = new_confirm_token(core.settings.secret_key, core.clock)
    row = PendingConfirmation(
        token_hash=token_hash,
        purpose=purpose,
        email=normalise_email(email),
        name=name or None,
        language=language,
        series_id=series_id,
        created_at=now,
        expires_at=now + CONFIRM_VALID_FOR,
    )
    s.add(row)
    s.flush()
    return row.id, token


def purge_expired(core: Core) -> int:
    """Delete requests whose link has expired (their addresses with them); returns how many.

    Called whenever a request is stored; a scheduled job may call it too."""
    with core.db.transaction() as s:
        result = s.execute(
            delete(PendingConfirmation).where(PendingConfirmation.expires_at < core.clock.now())
        )
        return int(getattr(result, "rowcount", 0) or 0)


def find(core: Core, token_hash: str, purpose: str) -> Pending | None:
    with core.db.read() as s:
        row = s.scalar(
            select(PendingConfirmation).where(
                PendingConfirmation.token_hash == token_hash, PendingConfirmation.purpose == purpose
            )
        )
        if row is None:
            return None
        return Pending(
            row.id, row.purpose, row.email, row.name, row.language, row.series_id, row.confirmed_at
        )


def mark_confirmed(core: Core, pending: Pending) -> None:
    """Remember that the link was used (a repeat then says so) and forget the address and name.

    After an erasure every other request for the same address goes too."""
    with core.db.transaction() as s:
        row = s.get(PendingConfirmation, pending.id)
        if row is not None:
            row.confirmed_at, row.email, row.name = core.clock.now(), None, None
        if pending.purpose == ERASE and pending.email:
            s.execute(delete(PendingConfirmation).where(PendingConfirmation.email == pending.email))
