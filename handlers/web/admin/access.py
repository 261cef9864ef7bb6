"""Who may use the dashboard, and for how long: one-time sign-in links and browser sessions.

A link's random key and a session's cookie value are never stored, only their SHA-256. A link is
marked used in the transaction that opens the session (an UPDATE that only a first use can win), so
it signs in once, even when two tabs race. Whether someone may sign in is asked of the organiser
role (`bot.services.organisers`) at each step: at issue, at use, and on every page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.commands import Actor
from bot.models import Person
from bot.services import audit
from bot.services.context import CoreConfig, Ctx
from bot.services.organisers import organises_any
from bot.services.people import get_or_create_person, normalise_email, person_by_email
from bot.tokens import token_hash
from handlers.web.models import DashboardLink, DashboardSession

LINK_VALID_FOR = timedelta(minutes=15)
PLATFORM = "dashboard"  # the actor's platform, and so the channel its audit rows name
LINK, MICROSOFT = "link", "microsoft"


class NoDashboard(Exception):
    """This address organises no series (and is not the local operator): no sign-in for it."""


class LinkRefused(Exception):
    """A sign-in link that cannot sign in: `reason` is "unknown", "used" or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedIn:
    """The organiser behind a browser session, and the cookie value that names it."""

    session_id: int
    person_id: int
    email: str
    name: str | None
    operator: bool
    key: str

    @property
    def actor(self) -> Actor:
        return organiser_actor(self.email, self.name, self.operator)


def organiser_actor(email: str, name: str | None = None, operator: bool = False) -> Actor:
    """The dashboard's actor: the person with this (vouched-for) address; audited as the dashboard."""
    return Actor(PLATFORM, email, email=email, name=name, is_operator=operator)


def may_sign_in(ctx: Ctx) -> bool:
    return organises_any(ctx)


def issue_link(ctx: Ctx, email: str, base_url: str, *, operator: bool = False) -> str:
    """A sign-in URL for `email`, valid 15 minutes, once; raises NoDashboard for a non-organiser.
    `ctx` is the operator's (the CLI): the audit row names them."""
    actor = organiser_actor(normalise_email(email), operator=operator)
    as_them = Ctx(ctx.s, actor, ctx.now, ctx.config)
    if not may_sign_in(as_them):
        raise NoDashboard(email)
    person = get_or_create_person(ctx.s, actor, ctx.now) if operator else person_by_email(ctx.s, email)
    assert person is not None  # an organiser is a person
    key = secrets.token_urlsafe(32)
    link = DashboardLink(
        token_hash=token_hash(key),
        person_id=person.id,
        operator=operator,
        created_at=ctx.now,
        expires_at=ctx.now + LINK_VALID_FOR,
    )
    ctx.s.add(link)
    ctx.s.flush()
    audit.record(
        ctx, "dashboard.link_issued", subject=("person", person.id), link_id=link.id, operator=operator
    )
    return f"{base_url.rstrip('/')}/admin/login/{key}"


def check_link(s: Session, key: str, now: datetime) -> DashboardLink:
    """The link this key names, if it can still sign in; raises LinkRefused (unknown, used, expired)."""
    link = s.scalar(select(DashboardLink).where(DashboardLink.token_hash == token_hash(key)))
    if link is None:
        raise LinkRefused("unknown")
    if link.used_at is not None:
        raise LinkRefused("used")
    if link.expires_at <= now:
        raise LinkRefused("expired")
    return link


def link_holder(s: Session, key: str, now: datetime) -> str:
    """The address an unused link signs in (for the page that asks to confirm); raises LinkRefused."""
    person = s.get(Person, check_link(s, key, now).person_id)
    if person is None or person.email is None:
        raise LinkRefused("unknown")
    return person.email


def redeem_link(s: Session, key: str, now: datetime, config: CoreConfig, lifetime: timedelta) -> str:
    """Use a link: mark it used and open a session in this one transaction; returns the cookie value.
    Raises LinkRefused (unknown, used, expired) or NoDashboard (no longer an organiser)."""
    link = check_link(s, key, now)
    won = s.execute(
        update(DashboardLink)
        .where(DashboardLink.id == link.id, DashboardLink.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(won, "rowcount", 0) != 1:
        raise LinkRefused("used")
    person = s.get(Person, link.person_id)
    if person is None or person.email is None:
        raise LinkRefused("unknown")
    return open_session(s, person, now, config, lifetime, LINK, operator=link.operator)


def open_session(
    s: Session,
    person: Person,
    now: datetime,
    config: CoreConfig,
    lifetime: timedelta,
    how: str,
    *,
    operator: bool = False,
) -> str:
    """A new browser session for an organiser; returns the cookie value. Raises NoDashboard."""
    assert person.email is not None
    ctx = Ctx(s, organiser_actor(person.email, person.name, operator), now, config)
    if not may_sign_in(ctx):
        raise NoDashboard(person.email)
    key = secrets.token_urlsafe(32)
    row = DashboardSession(
        key_hash=token_hash(key),
        person_id=person.id,
        operator=operator,
        signed_in_with=how,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    s.add(row)
    s.flush()
    audit.record(ctx, "dashboard.signed_in", subject=("person", person.id), session=row.id, method=how)
    return key


def current_session(s: Session, key: str, now: datetime, idle: timedelta) -> SignedIn | None:
    """The live session this cookie value names, its last use moved to `now`; None when there is
    none, or it ended (signed out, idle too long, past its lifetime)."""
    if not key:
        return None
    row = s.scalar(select(DashboardSession).where(DashboardSession.key_hash == token_hash(key)))
    if row is None or row.ended_at is not None:
        return None
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        row.ended_at = now
        return None
    person = s.get(Person, row.person_id)
    if person is None or person.email is None:
        return None
    row.last_seen_at = now
    return SignedIn(row.id, person.id, person.email, person.name, row.operator, key)


def end_session(ctx: Ctx, who: SignedIn) -> None:
    row = ctx.s.get(DashboardSession, who.session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = ctx.now
        audit.record(ctx, "dashboard.signed_out", subject=("person", who.person_id), session=row.id)


def csrf_token(secret_key: str, who: SignedIn) -> str:
    """The session's form token: derived from its cookie value, so nothing more is stored."""
    return hmac.new(secret_key.encode(), f"dashboard-csrf:{who.key}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret_key: str, who: SignedIn, given: str) -> bool:
    return secrets.compare_digest(csrf_token(secret_key, who), given)


def purge_ended(s: Session, now: datetime) -> int:
    """Forget sign-in links past their time and sessions that ended (the audit log keeps who signed
    in and when); returns how many rows went."""
    gone = s.execute(delete(DashboardLink).where(DashboardLink.expires_at <= now))
    ended = s.execute(
        delete(DashboardSession).where(
            or_(DashboardSession.expires_at <= now, DashboardSession.ended_at.is_not(None))
        )
    )
    return int(getattr(gone, "rowcount", 0)) + int(getattr(ended, "rowcount", 0))
