"""Who is who: a person has one or more identities (console, slack, teams, email, web).

Trust rule: `Person.email` is only set from a source that vouches for it (Slack profile, Graph, a
confirmed web opt-in, the operator). So matching by e-mail joins the same person across channels.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, literal_column, select, union_all
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.base import instance_state

from bot.addresses import BadAddress, is_mailbox, mailbox
from bot.bounds import is_platform_id
from bot.commands import Actor
from bot.models import Identity, Person
from bot.services.errors import UserError
from bot.text import visible

PLATFORMS = ("console", "slack", "teams", "email", "web")


@lru_cache(maxsize=4096)
def normalise_email(email: str) -> str:
    """The one form an address is kept and matched in (see bot.addresses); other text lowercased.
    Kept per process for the addresses seen last: a command asks for its actor's more than once,
    and checking an address is a tenth of a subscribe's time."""
    try:
        return mailbox(email)
    except BadAddress:
        return email.strip().lower()


def is_email(text: str) -> bool:
    """Whether `text` is exactly one mailbox (bot.addresses)."""
    return is_mailbox(text)


def email_hash(secret_key: str, email: str) -> str:
    """A keyed hash of an address: proves a past unsubscribe without keeping the address."""
    return hmac.new(secret_key.encode(), normalise_email(email).encode(), hashlib.sha256).hexdigest()


def person_by_email(s: Session, email: str) -> Person | None:
    return s.scalar(select(Person).where(Person.email == normalise_email(email)))


# Who the actors of a transaction are: a command asks several times (the service, the audit row, the
# reply's language), so the answer (the person itself, which also keeps it loaded in the session) is
# kept in the session for its one transaction.
_FOUND = "people.found"
# Identities a statement of the transaction found linked to a person: (platform, external_id, id).
_LINKED = "people.linked"

# Built once: a statement made per call costs more to build and to key for the compiled cache than
# SQLite takes to run it.
_BY_IDENTITY = (
    select(Person)
    .join(Identity, Identity.person_id == Person.id)
    .where(Identity.platform == bindparam("platform"), Identity.external_id == bindparam("external_id"))
)
# The identity's person, else the address's: both indexed lookups, in one round trip (also the
# start of services.newcomers' statement).
FIRST = (
    union_all(
        select(Identity.person_id.label("id"), literal_column("0").label("rank")).where(
            Identity.platform == bindparam("platform"), Identity.external_id == bindparam("external_id")
        ),
        select(Person.id, literal_column("1").label("rank")).where(Person.email == bindparam("email")),
    )
    .order_by(literal_column("rank"))
    .limit(1)
    .subquery()
)
_BY_IDENTITY_OR_EMAIL = select(Person).join(FIRST, FIRST.c.id == Person.id)


def find_person(s: Session, actor: Actor) -> Person | None:
    """The person behind `actor`, by identity first, then by vouched-for e-mail; None if unknown."""
    found: dict[tuple[str, str, str | None], Person | None] = s.info.setdefault(_FOUND, {})
    key = (actor.platform, actor.external_id, actor.email)
    if key in found:
        person = found[key]
        if person is None or instance_state(person).persistent:
            return person
    person = _look_up(s, actor)
    found[key] = person
    return person


def forget_people(s: Session, *, except_: tuple[Actor, Person] | None = None) -> None:
    """After people or identities were made or removed: the next `find_person` looks again (but for
    `except_`, an actor and the person just made or linked for them)."""
    s.info.pop(_FOUND, None)
    s.info.pop(_LINKED, None)
    if except_ is not None:
        actor, person = except_
        s.info[_FOUND] = {(actor.platform, actor.external_id, actor.email): person}


def is_remembered(s: Session, actor: Actor) -> bool:
    """Whether `find_person` answers for `actor` without a lookup (asked in this transaction)."""
    found = s.info.get(_FOUND)
    return found is not None and (actor.platform, actor.external_id, actor.email) in found


def remember_person(s: Session, actor: Actor, person: Person, *, made: bool, linked: bool) -> None:
    """`person` is `actor`'s, found or (`made`) made just now by a statement of the caller's: the
    next `find_person` for the actor answers without a lookup. `linked`: the person has the actor's
    identity (`get_or_create_person` need not read their identities to know)."""
    if made:
        forget_people(s, except_=(actor, person))
    else:
        s.info.setdefault(_FOUND, {})[(actor.platform, actor.external_id, actor.email)] = person
    if linked:
        s.info.setdefault(_LINKED, set()).add((actor.platform, actor.external_id, person.id))


def _look_up(s: Session, actor: Actor) -> Person | None:
    params = {"platform": actor.platform, "external_id": actor.external_id}
    if not actor.email:
        return s.scalar(_BY_IDENTITY, params)
    return s.scalar(_BY_IDENTITY_OR_EMAIL, {**params, "email": normalise_email(actor.email)})


_PERSON = cast(Table, Person.__table__)
_IDENTITY = cast(Table, Identity.__table__)
_INSERT_PERSON = insert(_PERSON).returning(*_PERSON.c)
_INSERT_IDENTITY = insert(_IDENTITY)


def _insert_person(s: Session, actor: Actor, now: datetime) -> Person:
    """A new person with the actor's identity, as two INSERTs, without the unit of work's flush
    (most of a subscribe's time for a newcomer); the row the database returned is put in the
    session as loaded, so nothing is read back."""
    row = s.execute(
        _INSERT_PERSON,
        {
            "created_at": now,
            "email": normalise_email(actor.email) if actor.email else None,
            "name": actor.name[:200] if actor.name else None,
            "language": actor.language or None,
        },
    ).one()
    s.execute(
        _INSERT_IDENTITY,
        {
            "person_id": row.id,
            "platform": actor.platform,
            "external_id": actor.external_id,
            "created_at": now,
        },
    )
    values: dict[str, Any] = dict(row._mapping)
    person = Person(**values)
    make_transient_to_detached(person)
    s.add(person)
    return person


def get_or_create_person(s: Session, actor: Actor, now: datetime) -> Person:
    """Find the actor's person or create one, linking this identity and filling what is known."""
    person = find_person(s, actor)
    if person is None:
        # Nobody has this identity or this address (find_person looked up both): one INSERT each.
        person = _insert_person(s, actor, now)
        forget_people(s, except_=(actor, person))
        return person
    if actor.email and person.email is None and person_by_email(s, actor.email) is None:
        person.email = normalise_email(actor.email)
    if actor.name and not person.name:
        person.name = actor.name[:200]
    if actor.language and not person.language:
        person.language = actor.language
    linked = (actor.platform, actor.external_id, person.id) in s.info.get(_LINKED, ())
    if not linked and not any(
        i.platform == actor.platform and i.external_id == actor.external_id for i in person.identities
    ):
        person.identities.append(
            Identity(platform=actor.platform, external_id=actor.external_id, created_at=now)
        )
    s.flush()
    forget_people(s, except_=(actor, person))
    return person


def resolve_identity(s: Session, identity: str, now: datetime, *, create: bool) -> Person | None:
    """An e-mail or `platform:user-id` to a person; created when `create` and unknown."""
    text = identity.strip()
    if is_email(text):
        person = person_by_email(s, text)
        if person is None and create:
            person = Person(email=normalise_email(text), created_at=now)
            s.add(person)
            s.flush()
            forget_people(s)
        return person
    platform, sep, external_id = text.partition(":")
    platform = platform.lower()
    if (not sep or platform not in PLATFORMS) and "@" in text:
        raise UserError("bad_address", address=visible(text))
    if not sep or platform not in PLATFORMS or not is_platform_id(external_id):
        raise UserError("bad_identity", identity=visible(identity))
    if platform == "email":
        return resolve_identity(s, external_id, now, create=create)
    found = s.scalar(
        select(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )
    if found is not None:
        return found.person
    if not create:
        return None
    person = Person(created_at=now)
    person.identities.append(Identity(platform=platform, external_id=external_id, created_at=now))
    s.add(person)
    s.flush()
    forget_people(s)
    return person


def channels_of(person: Person) -> list[str]:
    """The channels this person can be reached through, for exports and `mine data`."""
    found = {"email"} if person.email and person.mail_suspended_at is None else set()
    found.update(i.platform for i in person.identities if i.platform in ("slack", "teams"))
    return sorted(found)
