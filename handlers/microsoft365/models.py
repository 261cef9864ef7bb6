"""The Microsoft 365 channel's tables: the stored Teams login, the meetings, the mail ledger, the
delta cursors and the change-notification subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base


class GraphLogin(Base):
    """The delegated service account's msal token cache, encrypted with a key derived from SECRET_KEY.

    `version` rises on every save, so other processes know to reload it; `problem` says why the login
    no longer works (shown by `teams status` and /healthz) until the next successful refresh or login;
    `problem_transient`: the identity provider failed for now and the bot retries by itself, rather
    than the login being gone (`invalid_grant`, `interaction_required`: `teams login` is needed).
    """

    __tablename__ = "graph_login"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_cache: Mapped[str] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(320), default=None)
    user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    logged_in_at: Mapped[datetime]
    refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    problem: Mapped[str | None] = mapped_column(String(300), default=None)
    problem_at: Mapped[datetime | None] = mapped_column(default=None)
    problem_transient: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class GraphEvent(Base):
    """One Teams meeting event in the organiser's calendar for a session (several when the subscribers
    exceed the attendee limit: part 0 holds the online meeting, later parts carry its join link)."""

    __tablename__ = "graph_event"
    __table_args__ = (UniqueConstraint("session_id", "part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    part: Mapped[int] = mapped_column(Integer, default=0)
    # Set before the first POST and sent as Graph's transactionId: a retried create makes no duplicate.
    transaction_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(300), default=None)
    online_meeting: Mapped[bool] = mapped_column(Boolean, default=False)
    join_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    # Exchange's `iCalUId` of the event: the UID its invitation carries (and the reminder's .ics too).
    ical_uid: Mapped[str | None] = mapped_column(String(300), default=None)
    # Person ids currently on the event as attendees (addresses are read fresh when syncing).
    attendee_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The addresses we put on the event (lower case): only these are ever taken off it, so attendees
    # the organiser added in Outlook stay. None: recorded before this was kept.
    attendee_addresses: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # sha256 of the body text we last sent: a change that leaves it alone sends no body.
    body_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    invited: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_sequence: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
    # The Teams meeting's webinar options (part 0 only, see meeting_options): a digest of the join link
    # and speakers they were set for, the last failure (shown by `teams status`), and the last attempt.
    options_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    options_problem: Mapped[str | None] = mapped_column(String(500), default=None)
    options_tried_at: Mapped[datetime | None] = mapped_column(default=None)


class GraphAttendance(Base):
    """Reading a session's Teams attendance reports (attendance.py): the online meeting's id, the
    reports already read (a report is read once; a new one makes the count again), when it was last
    tried and why it failed. `final` once it is no longer read."""

    __tablename__ = "graph_attendance"

    session_id: Mapped[int] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), primary_key=True)
    meeting_id: Mapped[str | None] = mapped_column(String(300), default=None)
    report_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime]
    problem: Mapped[str | None] = mapped_column(String(500), default=None)


class GraphMailLedger(Base):
    """Recipients of mail sent from the organiser mailbox (mails, meeting invitations), counted for
    Exchange Online's recipients-per-rolling-day limit. Rows older than two days are pruned."""

    __tablename__ = "graph_mail_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    recipients: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(16))


class GraphCursor(Base):
    """Where reading Teams left off: a channel's delta link, or the 1:1 chats' time watermark."""

    __tablename__ = "graph_cursor"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text, default=None)
    # Messages written before the bot started watching are never carried out.
    watching_since: Mapped[datetime]
    updated_at: Mapped[datetime]


class GraphSubscription(Base):
    """A change-notification subscription the bot holds at Graph, renewed before it expires."""

    __tablename__ = "graph_subscription"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    resource: Mapped[str] = mapped_column(String(500), index=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
