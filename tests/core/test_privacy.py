"""`mine data` shows what is held; `slett meg` asks first, then erases all but the proof of unsubscribe."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot.entry.composition import App
from bot.models import AuditEvent, Identity, Person, Subscription
from bot.services.people import email_hash
from tests.conftest import person

KARI = person("kari@kommune.no", name="Kari Nordmann")


def test_my_data_lists_what_is_held(say: Callable[..., str]) -> None:
    assert "ikke lagret noe" in say(KARI, "mine data")
    say(KARI, "meld på")
    reply = say(KARI, "mine data")
    assert "Navn: Kari Nordmann" in reply
    assert "E-post: kari@kommune.no" in reply
    assert "Kontoer: console:kari@kommune.no" in reply
    assert "Bærekraftsfredag: påmeldt siden onsdag 4. mars 2026" in reply


def test_forget_me_asks_for_confirmation_first(app: App, say: Callable[..., str]) -> None:
    say(KARI, "meld på")
    assert "slett meg bekreft" in say(KARI, "slett meg")
    with app.db.read() as s:
        assert s.scalars(select(Person)).one().email == "kari@kommune.no"


def test_forget_me_erases_personal_data_but_keeps_the_unsubscribe(app: App, say: Callable[..., str]) -> None:
    say(KARI, "meld på")
    assert "Ferdig" in say(KARI, "slett meg bekreft")
    with app.db.read() as s:
        kept = s.scalars(select(Person)).one()
        assert (kept.name, kept.email, kept.language) == (None, None, None)
        assert kept.erased_at is not None
        assert kept.email_hash == email_hash(app.config.secret_key, "kari@kommune.no")
        assert list(s.scalars(select(Identity))) == []
        sub = s.scalars(select(Subscription)).one()
        assert not sub.active and sub.unsubscribed_at is not None
        erased = s.scalars(select(AuditEvent).where(AuditEvent.action == "person.erased")).one()
        assert erased.actor_person_id == kept.id
        assert all("kari" not in str(e.details) for e in s.scalars(select(AuditEvent)))
    # The bot no longer knows them.
    assert "ikke lagret noe" in say(KARI, "mine data")


def test_coming_back_after_erasure_is_a_new_person(app: App, say: Callable[..., str]) -> None:
    say(KARI, "meld på")
    say(KARI, "slett meg bekreft")
    assert "Du er nå påmeldt" in say(KARI, "meld på")
    with app.db.read() as s:
        assert len(list(s.scalars(select(Person)))) == 2
