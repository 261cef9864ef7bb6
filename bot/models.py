"""The data: series, sessions and their slides, people with their identities, subscriptions, roles, audit.

All timestamps are UTC (`UTCDateTime`); wall-clock times are computed in the series' time zone.
"""

from __future__ import annotations

import enum
from datetime import datetime, time, timedelta

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy's declared hook


class SessionStatus(enum.StrEnum):
    # Made by a recurrence rule: seen by organisers only, sends nothing until one gives it a title.
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    HELD = "held"


class Series(Base):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="nb")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Oslo")
    # ISO 3166 code whose public holidays a recurrence rule skips (bot/holidays.py).
    country: Mapped[str] = mapped_column(String(2), default="NO", server_default="NO")
    default_start_time: Mapped[time] = mapped_column(Time, default=time(9, 0))
    default_duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    # RFC 5545 RRULE (e.g. FREQ=MONTHLY;BYDAY=1FR;BYMONTH=1,2,3,4,5,6,8,9,10,11,12), in local time.
    recurrence: Mapped[str | None] = mapped_column(String(300), default=None)
    # Delivery offsets as durations ("7d", "1d,1h", "2h"); days count in local wall-clock days.
    invitation_offset: Mapped[str] = mapped_column(String(32), default="7d", server_default="7d")
    reminder_offsets: Mapped[str] = mapped_column(String(100), default="1d,1h", server_default="1d,1h")
    followup_delay: Mapped[str] = mapped_column(String(32), default="2h", server_default="2h")
    created_at: Mapped[datetime]

    sessions: Mapped[list[Session]] = relationship(back_populates="series", order_by="Session.start_at")


class Session(Base):
    __tablename__ = "session"
    __table_args__ = (Index("ix_session_series_start", "series_id", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str | None] = mapped_column(String(200), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    speakers: Mapped[str | None] = mapped_column(String(500), default=None)
    start_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    join_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.SCHEDULED.value)
    # Raised on every change that matters to a calendar (iCalendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    series: Mapped[Series] = relationship(back_populates="sessions")
    links: Mapped[list[PresentationLink]] = relationship(
        back_populates="session", order_by="PresentationLink.id", cascade="all, delete-orphan"
    )

    @property
    def end_at(self) -> datetime:
        return self.start_at + timedelta(minutes=self.duration_minutes)


class LinkKind(enum.StrEnum):
    SLIDES = "slides"
    RECORDING = "recording"  # shown first, with a note that its captions are automatic


class PresentationLink(Base):
    __tablename__ = "presentation_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    speaker: Mapped[str | None] = mapped_column(String(200), default=None)
    url: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(16), default=LinkKind.SLIDES.value, server_default="slides")
    added_at: Mapped[datetime]

    session: Mapped[Session] = relationship(back_populates="links")


class SessionAttendance(Base):
    """How many took part in a session, as a platform's attendance reports say (Teams): distinct
    attendees over all its reports. `final` once it is no longer read again."""

    __tablename__ = "session_attendance"

    session_id: Mapped[int] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), primary_key=True)
    attended: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class Person(Base):
    """Someone the bot knows. `email` is only ever set from a trusted source (see services.people)."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime]
    # After erasure only a keyed hash of the address remains, to prove (and honour) the unsubscribe.
    erased_at: Mapped[datetime | None] = mapped_column(default=None)
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    # Set after too many hard bounces (bot/services/bounces.py): the address gets no mail until the
    # person confirms it again or subscribes again. Nothing else of theirs changes.
    mail_suspended_at: Mapped[datetime | None] = mapped_column(default=None)
    # When a suspension was lifted: bounces before it no longer count towards another.
    mail_resumed_at: Mapped[datetime | None] = mapped_column(default=None)

    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Identity.id"
    )
    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="person")


class Identity(Base):
    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    # False while the platform says the account is deactivated: nothing is sent to it.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())

    person: Mapped[Person] = relationship(back_populates="identities")


class Subscription(Base):
    """Person × series. Never deleted: an unsubscribe is kept as a record of when and how."""

    __tablename__ = "subscription"
    __table_args__ = (
        UniqueConstraint("person_id", "series_id"),
        Index("ix_subscription_series_active", "series_id", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source_channel: Mapped[str] = mapped_column(String(16))
    consented_at: Mapped[datetime]
    unsubscribed_at: Mapped[datetime | None] = mapped_column(default=None)
    unsubscribe_channel: Mapped[str | None] = mapped_column(String(16), default=None)
    # Reminders as direct messages too, where a channel offers them (Slack).
    direct_messages: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())

    person: Mapped[Person] = relationship(back_populates="subscriptions")
    series: Mapped[Series] = relationship()


class Organiser(Base):
    __tablename__ = "organiser"
    __table_args__ = (UniqueConstraint("person_id", "series_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    granted_at: Mapped[datetime]

    person: Mapped[Person] = relationship()
    series: Mapped[Series] = relationship()


class AuditEvent(Base):
    """Who did what, when, through which channel. Details hold ids and values, not personal data."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(16))
    actor_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True, default=None
    )
    # For actors that are not people: "cli:<os user>", "scheduler".
    actor_label: Mapped[str | None] = mapped_column(String(100), default=None)
    action: Mapped[str] = mapped_column(String(64))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"), default=None)
    subject_type: Mapped[str | None] = mapped_column(String(32), default=None)
    subject_id: Mapped[int | None] = mapped_column(Integer, default=None)
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class MailBounce(Base):
    """A mail that came back (bot/bounce_report.py): to which address, when, hard or soft, the
    status code and the server's words. `key` (the report's source and id, and the address) makes
    a report read twice count once. Erased with the person."""

    __tablename__ = "mail_bounce"
    __table_args__ = (Index("ix_mail_bounce_person_at", "person_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"), default=None)
    at: Mapped[datetime]
    hard: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    diagnostic: Mapped[str] = mapped_column(String(300), default="")


# --- Delivery: what must be sent, and the state of each send (see bot/delivery) --------------------


class FanoutState(enum.StrEnum):
    EXPANDED = "expanded"
    SKIPPED = "skipped"


class Fanout(Base):
    """One message to everybody concerned (a session's invitation, a reminder, a follow-up...).

    Created by the planner when due; `key` makes it happen once whatever runs the planner.
    """

    __tablename__ = "fanout"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), index=True, default=None
    )
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(300), default=None)
    # What the message is about, when that is not the session alone (e.g. the changed fields).
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # taken by a worker, not yet attempted: safe to hand back after a crash
    SENDING = "sending"  # being sent right now: in doubt after a crash
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Delivery(Base):
    """The outbox: one row per message to one target through one channel, sent once."""

    __tablename__ = "delivery"
    # In the order a claim takes rows (bot/delivery/outbox.py).
    __table_args__ = (Index("ix_delivery_work", "channel", "state", "priority", "due_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    fanout_id: Mapped[int] = mapped_column(ForeignKey("fanout.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(320))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True, default=None
    )
    language: Mapped[str] = mapped_column(String(8))
    # 0 goes first (organiser notices, confirmation mails), then 1 (announcements), by due time.
    priority: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    external_ref: Mapped[str | None] = mapped_column(String(300), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    fanout: Mapped[Fanout] = relationship()


class PacingSlot(Base):
    """The next free send time per rate-limited key (a Slack channel, a mailbox), shared by processes."""

    __tablename__ = "pacing_slot"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    next_at: Mapped[datetime]


class ChannelHold(Base):
    """A channel, or one of its targets, that cannot send now (revoked credentials, a missing
    permission, an archived announcement channel): its rows wait, unsent and uncounted, while one
    send probes at `probe_at`; the row goes when a probe gets through (bot/delivery/holds.py).
    `target` is "" for the whole channel."""

    __tablename__ = "channel_hold"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(320), primary_key=True)
    problem: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200))
    began_at: Mapped[datetime]
    probe_at: Mapped[datetime]
    probe_seconds: Mapped[int] = mapped_column(Integer)


# --- Inbound requests: acked at once, carried out by the inbox worker (see bot/inbox.py) -------------


class InboundRequest(Base):
    """A request a channel received (a Slack command, click or event; a Teams message; a console
    line; a web action), kept until carried out: the one inbound path (bot/inbox.py).

    `key` is the platform's id for it (event id, trigger id, message id), unique, so a retry or a
    replay acts once. new → working (a worker took it) → executed (its command committed, in the same
    transaction) → done | failed. The payload is cleared when done; the row stays as the replay guard.
    """

    __tablename__ = "inbound_request"
    __table_args__ = (Index("ix_inbound_request_state_received", "state", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)
    state: Mapped[str] = mapped_column(String(12), default="new")
    received_at: Mapped[datetime] = mapped_column(index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(60), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(300), default=None)


# --- Health: what failed unexpectedly, in any process (see bot/error_policy.py) ----------------------


class HealthProblem(Base):
    """A place (a job, a sender, a kind of request) that failed unexpectedly: how often, when last,
    and the error's type and cleaned message. Every process's error policy writes here and /healthz
    reads it, so a failure in the worker process shows on the front's report."""

    __tablename__ = "health_problem"

    place: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str] = mapped_column(String(400))


class ReachCount(Base):
    """Per series, how many subscribers no configured channel reaches, and a digest of what that was
    counted from (the subscribers' stamp and the senders' channels). Whoever counts stores it (the
    worker at its start); /healthz answers from here while the digest still holds."""

    __tablename__ = "reach_count"

    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), primary_key=True)
    basis: Mapped[str] = mapped_column(String(64))
    unreached: Mapped[int]


class ColleagueInvitation(Base):
    """One «bring a colleague» request: who asked and for whom, as keyed hashes (never an address),
    for the limits per inviter and per invited address; `mailed` says whether a mail went out."""

    __tablename__ = "colleague_invitation"
    __table_args__ = (
        Index("ix_colleague_invitation_inviter_at", "inviter_hash", "created_at"),
        Index("ix_colleague_invitation_invitee_at", "series_id", "invitee_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    inviter_hash: Mapped[str] = mapped_column(String(64))
    invitee_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    mailed: Mapped[bool] = mapped_column(Boolean, default=False)
