"""The web channel's tables: pending double opt-ins, the forms' rate limit, and the organisers'
dashboard's sign-in links and browser sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base


class PendingConfirmation(Base):
    """A subscribe, leave or erase request waiting for the click in its confirmation mail.

    Only a hash of the mailed token is stored, so the table cannot be used to confirm anything. The
    address is cleared once confirmed; rows are deleted after they expire.
    """

    __tablename__ = "web_pending_confirmation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "subscribe", "leave" or "erase"
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), default=None)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)


class RateLimitHit(Base):
    """One counted action (a mail sent from a web form) in a bucket such as a hashed address or client."""

    __tablename__ = "web_rate_limit_hit"
    __table_args__ = (Index("ix_web_rate_limit_hit_bucket_at", "bucket", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]


class DashboardLink(Base):
    """A one-time sign-in link to the organisers' dashboard (`dashboard link --as EMAIL`).

    Only a hash of the link's random key is stored. `used_at` is set in the transaction that opens
    the browser session, so a link signs in once.
    """

    __tablename__ = "dashboard_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    # The local operator's link: every series, as `shell --organiser`.
    operator: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class DashboardSession(Base):
    """A signed-in browser: the cookie holds a random key, this row only its hash.

    It ends after `idle` without a request (`last_seen_at`), at `expires_at` whatever happens, or
    when its organiser signs out (`ended_at`).
    """

    __tablename__ = "dashboard_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    operator: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_in_with: Mapped[str] = mapped_column(String(16))  # "link" or "microsoft"
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
