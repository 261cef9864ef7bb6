"""Who a message is for: the subscriber list read as rows, and the stamp that tells it changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.clock import ManualClock
from bot.delivery.channels import Recipient
from bot.delivery.recipients import AudienceStamp, as_recipient, audience_stamp, subscribers
from bot.entry.composition import App
from bot.models import Identity, Person, Series, Subscription
from tests.conftest import person

Say = Callable[..., str]


def _series(s: Session) -> Series:
    return s.scalars(select(Series).order_by(Series.id)).first()  # type: ignore[return-value]


def _as_the_orm_sees_them(s: Session, series: Series) -> list[Recipient]:
    rows = s.execute(
        select(Person, Subscription.consented_at, Subscription.direct_messages)
        .join(Subscription, Subscription.person_id == Person.id)
        .where(Subscription.series_id == series.id, Subscription.active.is_(True))
        .options(selectinload(Person.identities))
        .order_by(Person.id)
    )
    return [as_recipient(p, series, consented, direct) for p, consented, direct in rows]


def _join(say: Say, email: str) -> None:
    say(person(email), "meld på")


def _stamp(app: App) -> AudienceStamp:
    with app.db.read() as s:
        return audience_stamp(s, _series(s))


def test_subscribers_read_as_rows_are_what_the_orm_objects_say(
    app: App, clock: ManualClock, say: Say
) -> None:
    for name in ("a", "b", "c", "d"):
        say(person(f"{name}@x.no"), "meld på")
        clock.advance(timedelta(minutes=1))
    say(person("c@x.no"), "meld av")
    now = clock.now()
    with app.db.transaction() as s:
        a, b, d = (s.scalars(select(Person).where(Person.email == f"{n}@x.no")).one() for n in "abd")
        a.language = None  # falls back to the series' language
        # Two identities on one platform: the latest wins, as with `Person.identities`.
        a.identities.append(Identity(platform="slack", external_id="U0A", created_at=now))
        a.identities.append(Identity(platform="slack", external_id="U0B", created_at=now))
        b.identities.append(Identity(platform="teams", external_id="T-b", created_at=now))
        # Deactivated on its platform: it reaches no one.
        d.identities.append(Identity(platform="slack", external_id="U0D", created_at=now, active=False))
        sub = s.scalars(select(Subscription).where(Subscription.person_id == d.id)).one()
        sub.direct_messages = True
    with app.db.read() as s:
        series = _series(s)
        read = subscribers(s, series)
        assert read == _as_the_orm_sees_them(s, series)
    assert [r.email for r in read] == ["a@x.no", "b@x.no", "d@x.no"]  # c left
    assert read[0].identities["slack"] == "U0B" and read[0].language == series.language
    assert read[2].direct and not read[0].direct
    assert "slack" not in read[2].identities


def test_the_stamp_changes_with_whatever_decides_who_is_reached(
    app: App, clock: ManualClock, say: Say
) -> None:
    _join(say, "a@x.no")
    _join(say, "b@x.no")
    first = _stamp(app)
    assert _stamp(app) == first  # nothing changed: the same stamp
    assert first.latest_consent == clock.now()
    stamps = [first]

    def changed(step: Callable[[Session], None]) -> None:
        clock.advance(timedelta(minutes=1))
        with app.db.transaction() as s:
            step(s)
        stamps.append(_stamp(app))
        assert stamps[-1] != stamps[-2]

    def _person(s: Session, email: str) -> Person:
        return s.scalars(select(Person).where(Person.email == email)).one()

    def _sub(s: Session, email: str) -> Subscription:
        return s.scalars(select(Subscription).where(Subscription.person_id == _person(s, email).id)).one()

    def toggle_dm(s: Session) -> None:
        _sub(s, "a@x.no").direct_messages = True

    def link_slack(s: Session) -> None:
        b = _person(s, "b@x.no")
        b.identities.append(Identity(platform="slack", external_id="U0B", created_at=clock.now()))

    def deactivate_slack(s: Session) -> None:
        _person(s, "b@x.no").identities[-1].active = False

    def drop_address(s: Session) -> None:
        _person(s, "b@x.no").email = None

    changed(toggle_dm)
    changed(link_slack)
    changed(deactivate_slack)
    changed(drop_address)
    clock.advance(timedelta(minutes=1))
    _join(say, "c@x.no")
    assert _stamp(app) != stamps[-1]
    stamps.append(_stamp(app))
    # One leaves as another joins: the number stays, the stamp does not.
    clock.advance(timedelta(minutes=1))
    say(person("a@x.no"), "meld av")
    _join(say, "d@x.no")
    assert _stamp(app) != stamps[-1]
    assert _stamp(app).latest_consent == clock.now()
