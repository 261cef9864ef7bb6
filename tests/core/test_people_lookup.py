"""find_person keeps its answers for the transaction, and forgets them when people are made."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, func, insert, select, text

from bot.commands import Actor
from bot.entry.composition import App
from bot.models import AuditEvent, Identity, Person, Series, Subscription
from bot.parser import parse
from bot.services.people import find_person, get_or_create_person
from tests.conftest import NOW

SLACK = Actor("slack", "U0LOOKUP", email="kari@kommune.no", name="Kari")
MAIL = Actor("email", "kari@kommune.no", email="kari@kommune.no")


def test_answers_are_kept_for_the_transaction_and_renewed_when_someone_is_made(app: App) -> None:
    queries: list[str] = []
    event.listen(app.db.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    with app.db.transaction() as s:
        assert find_person(s, SLACK) is None and find_person(s, MAIL) is None
        asked = len(queries)
        assert find_person(s, SLACK) is None  # kept: no second lookup
        assert len(queries) == asked
        kari = get_or_create_person(s, SLACK, NOW)
        made = len(queries)
        assert find_person(s, SLACK) is kari  # the one just made, without a lookup
        assert len(queries) == made
        assert find_person(s, MAIL) is kari  # "nobody" for the address was forgotten: found by it now
    with app.db.transaction() as s:
        found = find_person(s, SLACK)
        assert found is not None and found.id == kari.id and found.email == "kari@kommune.no"


def test_a_known_person_is_one_query_and_a_new_subscriber_is_not_looked_for_twice(app: App) -> None:
    """The command path's round trips to the database (each one a few hundred microseconds on
    PostgreSQL, for every command)."""
    queries: list[str] = []
    event.listen(app.db.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    app.dispatcher.execute(SLACK, parse("meld på"))
    subscribing = [q for q in queries if "FROM subscription" in q]
    assert subscribing == []  # Kari was made in this command: she cannot have a subscription yet
    with app.db.read() as s:
        queries.clear()
        kari = find_person(s, SLACK)
        assert kari is not None and kari.email == "kari@kommune.no"
        assert [q.split()[0] for q in queries if not q.startswith("BEGIN")] == ["SELECT"]  # one, joined
    queries.clear()
    reply = app.dispatcher.execute(SLACK, parse("meld på"))
    assert reply.key == "already_subscribed"
    if app.db.engine.dialect.name == "postgresql":
        # One statement finds her, her subscription, and that this identity is hers already.
        about_her = [q for q in queries if any(f" {t}" in q for t in ("person", "identity", "subscription"))]
        assert len(about_her) == 1 and about_her[0].startswith("WITH")
    else:
        assert len([q for q in queries if "FROM subscription" in q]) == 1  # a known person is checked


def test_a_newcomer_subscribes_with_one_lookup_and_reads_nothing_back(app: App) -> None:
    """The burst after an announcement is newcomers: who they are is one query (identity or
    address), each row made is one INSERT, and the person just made is not read again (by the
    audit row, the language learned, the reply's language). On PostgreSQL the lookup and the four
    rows are one statement (services.newcomers)."""
    queries: list[str] = []
    event.listen(app.db.engine, "before_cursor_execute", lambda *a: queries.append(" ".join(a[2].split())))
    reply = app.dispatcher.execute(SLACK, parse("meld på"))
    assert reply.key == "subscribed"
    inserts = sorted(q.split()[2] for q in queries if q.startswith("INSERT"))
    made = ["identity", "person", "subscription"]
    if app.db.engine.dialect.name == "postgresql":
        (newcomer,) = [q for q in queries if q.startswith("WITH")]
        tables = ["audit_event", *made]
        assert [t for t in tables if f"INSERT INTO {t} " in newcomer] == tables
        # The other audit row: the language Kari's Norwegian words gave her.
        assert inserts == ["audit_event"]
        assert not [q for q in queries if q.startswith("SELECT") and "FROM person" in q]
    else:
        # Two audit rows: the subscription, and the language Kari's Norwegian words gave her.
        assert inserts == ["audit_event", "audit_event", *made]
        assert len([q for q in queries if q.startswith("SELECT") and "FROM person" in q]) == 1
    with app.db.read() as s:
        kari = find_person(s, SLACK)
        assert kari is not None and kari.language == "nb" and kari.name == "Kari"
        assert [(i.platform, i.external_id) for i in kari.identities] == [("slack", "U0LOOKUP")]


def test_a_newcomers_rows_are_the_same_on_every_backend(app: App) -> None:
    """What a newcomer's subscribe writes, whichever statements write it: the person as their
    platform gives them, the identity, an active subscription consented now, and its audit row."""
    actor = Actor("slack", "U0NEW", email=" Ola@Kommune.NO ", name="Ola", language="nn")
    assert app.dispatcher.execute(actor, parse("meld på")).key == "subscribed"
    with app.db.read() as s:
        (ola,) = s.scalars(select(Person))
        assert (ola.email, ola.name, ola.language, ola.created_at) == ("ola@kommune.no", "Ola", "nn", NOW)
        assert (ola.erased_at, ola.email_hash, ola.mail_suspended_at, ola.mail_resumed_at) == (None,) * 4
        (identity,) = s.scalars(select(Identity))
        assert (identity.person_id, identity.platform, identity.external_id) == (ola.id, "slack", "U0NEW")
        assert identity.created_at == NOW and identity.active
        (sub,) = s.scalars(select(Subscription))
        series = s.scalar(select(Series.id))
        assert (sub.person_id, sub.series_id, sub.active, sub.source_channel) == (
            ola.id,
            series,
            True,
            "slack",
        )
        assert (sub.consented_at, sub.unsubscribed_at, sub.unsubscribe_channel) == (NOW, None, None)
        assert not sub.direct_messages
        (event_,) = s.scalars(select(AuditEvent))
        assert (event_.at, event_.channel, event_.actor_person_id, event_.actor_label) == (
            NOW,
            "slack",
            ola.id,
            None,
        )
        assert (event_.action, event_.series_id) == ("subscription.created", series)
        assert (event_.subject_type, event_.subject_id, event_.details) == (
            "subscription",
            sub.id,
            {"person_id": ola.id},
        )
    # Known now, by identity and by address: subscribing again changes nothing.
    assert app.dispatcher.execute(actor, parse("meld på")).key == "already_subscribed"
    by_mail = Actor("email", "ola@kommune.no", email="ola@kommune.no")
    assert app.dispatcher.execute(by_mail, parse("meld på")).key == "already_subscribed"
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 1
        assert s.scalar(select(func.count()).select_from(Subscription)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 1
        assert sorted(s.scalars(select(Identity.platform))) == ["email", "slack"]


def test_a_newcomer_without_an_address_is_made_with_the_identity_alone(app: App) -> None:
    actor = Actor("teams", "29:abc", name="Kari")
    assert app.dispatcher.execute(actor, parse("meld på")).key == "subscribed"
    assert app.dispatcher.execute(actor, parse("meld på")).key == "already_subscribed"
    with app.db.read() as s:
        (kari,) = s.scalars(select(Person))
        assert kari.email is None and kari.name == "Kari"
        assert [(i.platform, i.external_id) for i in kari.identities] == [("teams", "29:abc")]
        assert s.scalar(select(func.count()).select_from(Subscription)) == 1


def test_a_newcomer_whose_address_another_transaction_is_adding_joins_that_person(app: App) -> None:
    """Two transactions make a person with the same address at once (PostgreSQL; SQLite has one
    writer at a time): the subscribe waits for the other, then finds that person and joins them."""
    if app.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: nothing is made at once")
    other = app.db.engine.connect()
    watcher = app.db.engine.connect()
    try:
        adding = other.begin()
        other.execute(insert(Person).values(email="kari@kommune.no", name="Kari", created_at=NOW))
        other_pid = other.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        replies: list[str] = []
        subscribing = threading.Thread(
            target=lambda: replies.append(app.dispatcher.execute(SLACK, parse("meld på")).key)
        )
        subscribing.start()
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
        while not watcher.execute(waiting, {"pid": other_pid}).scalar() and subscribing.is_alive():
            watcher.rollback()
            time.sleep(0.01)
        assert subscribing.is_alive()  # it waits for the other transaction's address
        adding.commit()
        subscribing.join(timeout=60)
    finally:
        other.close()
        watcher.close()
    assert replies == ["subscribed"]
    with app.db.read() as s:
        (kari,) = s.scalars(select(Person))
        assert [(i.platform, i.external_id) for i in kari.identities] == [("slack", "U0LOOKUP")]
        assert s.scalar(select(Subscription.person_id)) == kari.id
