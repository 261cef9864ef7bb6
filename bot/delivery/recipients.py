"""Who a message is for: a series' active subscribers or its organisers, as `Recipient`s."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.delivery.channels import Recipient
from bot.models import Organiser, Person, Series, Subscription


def as_recipient(
    person: Person, series: Series, subscribed_at: datetime | None = None, direct: bool = False
) -> Recipient:
    return Recipient(
        person_id=person.id,
        language=person.language or series.language,
        name=person.name,
        email=person.email,
        identities={i.platform: i.external_id for i in person.identities},
        subscribed_at=subscribed_at,
        direct=direct,
    )


def subscribers(s: Session, series: Series) -> list[Recipient]:
    rows = s.execute(
        select(Person, Subscription.consented_at, Subscription.direct_messages)
        .join(Subscription, Subscription.person_id == Person.id)
        .where(Subscription.series_id == series.id, Subscription.active.is_(True))
        .options(selectinload(Person.identities))
        .order_by(Person.id)
    )
    return [as_recipient(person, series, consented, direct) for person, consented, direct in rows]


def organisers(s: Session, series: Series) -> list[Recipient]:
    people: Iterable[Person] = s.scalars(
        select(Person)
        .join(Organiser, Organiser.person_id == Person.id)
        .where(Organiser.series_id == series.id)
        .options(selectinload(Person.identities))
        .order_by(Person.id)
    )
    return [as_recipient(person, series) for person in people]


def is_subscribed(s: Session, person_id: int, series_id: int) -> bool:
    return bool(
        s.scalar(
            select(Subscription.active).where(
                Subscription.person_id == person_id, Subscription.series_id == series_id
            )
        )
    )


def is_organiser(s: Session, person_id: int, series_id: int) -> bool:
    found = s.scalar(
        select(Organiser.id).where(Organiser.person_id == person_id, Organiser.series_id == series_id)
    )
    return found is not None
