"""find_person keeps its answers for the transaction, and forgets them when people are made."""

from __future__ import annotations

from sqlalchemy import event

from bot.commands import Actor
from bot.entry.composition import App
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
    assert len([q for q in queries if "FROM subscription" in q]) == 1  # a known person is checked


def test_a_newcomer_subscribes_with_one_lookup_and_reads_nothing_back(app: App) -> None:
    """The burst after an announcement is newcomers: who they are is one query (identity or
    address), each row made is one INSERT, and the person just made is not read again (by the
    audit row, the language learned, the reply's language)."""
    queries: list[str] = []
    event.listen(app.db.engine, "before_cursor_execute", lambda *a: queries.append(" ".join(a[2].split())))
    reply = app.dispatcher.execute(SLACK, parse("meld på"))
    assert reply.key == "subscribed"
    inserts = sorted(q.split()[2] for q in queries if q.startswith("INSERT"))
    # Two audit rows: the subscription, and the language Kari's Norwegian words gave her.
    assert inserts == ["audit_event", "audit_event", "identity", "person", "subscription"]
    assert len([q for q in queries if q.startswith("SELECT") and "FROM person" in q]) == 1
    with app.db.read() as s:
        kari = find_person(s, SLACK)
        assert kari is not None and kari.language == "nb" and kari.name == "Kari"
        assert [(i.platform, i.external_id) for i in kari.identities] == [("slack", "U0LOOKUP")]
