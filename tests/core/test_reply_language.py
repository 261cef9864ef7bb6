"""Replies in the language people write in (issue 17, item 2), through parse → dispatch → render.

Someone with no language of their own is answered in the language of their words, and that becomes
theirs (one transaction, audited) until they choose one with `språk` / `language` / `sprog`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.command_payloads import from_payload, to_payload
from bot.commands import Actor
from bot.dispatch import Reply
from bot.entry.cli.common import operator
from bot.entry.composition import App
from bot.models import AuditEvent, Person, Series, Subscription
from bot.parser import parse
from bot.services.context import Ctx
from bot.services.series import create_series
from tests.conftest import ORGANISER, person

KARI = person("kari@kommune.no")
METTE = person("mette@region.dk")
JOHN = person("john@example.org")


def run(app: App, actor: Actor, line: str) -> Reply:
    return app.dispatcher.execute(actor, parse(line))


def set_series_language(app: App, language: str) -> None:
    with app.db.transaction() as s:
        s.scalars(select(Series)).one().language = language


def add_series(app: App, slug: str, language: str) -> None:
    with app.db.transaction() as s:
        create_series(
            Ctx(s, operator(), app.clock.now(), app.config), slug, slug.title(), language, "Europe/Oslo"
        )


def stored_language(app: App, email: str) -> str | None:
    with app.db.read() as s:
        found = s.scalars(select(Person).where(Person.email == email)).one_or_none()
        return found.language if found is not None else None


def language_events(app: App) -> list[tuple[str, dict[str, object]]]:
    with app.db.read() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action.like("person.language%")).order_by(AuditEvent.id)
        )
        return [(e.action, dict(e.details or {})) for e in events]


# --- the language of the words -------------------------------------------------------------------


def test_english_words_get_an_english_reply_and_become_the_persons_language(app: App) -> None:
    reply = run(app, JOHN, "subscribe")
    assert (reply.key, reply.language) == ("subscribed", "en")
    assert stored_language(app, "john@example.org") == "en"
    assert language_events(app) == [("person.language_learned", {"language": "en"})]
    assert "You are subscribed to Bærekraftsfredag" in app.renderer.reply(run(app, JOHN, "status"))


def test_danish_words_in_a_danish_series_get_danish(app: App) -> None:
    set_series_language(app, "da")
    reply = run(app, METTE, "tilmeld")
    assert (reply.key, reply.language) == ("subscribed", "da")
    assert stored_language(app, "mette@region.dk") == "da"


def test_danish_words_in_a_norwegian_series_get_danish_too(app: App) -> None:
    assert run(app, METTE, "tilmeld mig").language == "da"


@pytest.mark.parametrize("words", ["meld mig til", "meld mig på"])
def test_the_danish_meld_mig_forms_subscribe_in_danish(app: App, words: str) -> None:
    reply = run(app, METTE, words)
    assert (reply.key, reply.language) == ("subscribed", "da")
    assert run(app, METTE, "meld mig af").key == "unsubscribed"


def test_norwegian_words_take_the_series_bokmal_or_nynorsk(app: App) -> None:
    set_series_language(app, "nn")
    assert run(app, KARI, "meld paa").language == "nn"
    assert stored_language(app, "kari@kommune.no") == "nn"


def test_norwegian_words_in_an_english_or_danish_series_are_bokmal(app: App) -> None:
    set_series_language(app, "da")
    assert run(app, KARI, "meld på").language == "nb"
    set_series_language(app, "en")
    assert run(app, person("ola@kommune.no"), "påmelding").language == "nb"


def test_nynorsk_words_get_nynorsk_even_in_a_bokmal_series(app: App) -> None:
    run(app, KARI, "meld på")
    ola = person("ola@kommune.no")
    run(app, ORGANISER, "gi arrangør ola@kommune.no")  # known to the bot, without a language
    assert run(app, ola, "kva veit du om meg").language == "nn"
    assert stored_language(app, "ola@kommune.no") == "nn"


def test_words_of_every_language_tell_nothing_and_store_nothing(app: App) -> None:
    set_series_language(app, "da")
    run(app, ORGANISER, "gi arrangør kari@kommune.no")
    assert run(app, KARI, "status").language == "da"  # the series' language
    assert stored_language(app, "kari@kommune.no") is None
    assert language_events(app) == []


def test_the_first_language_stays_until_one_is_chosen(app: App) -> None:
    run(app, JOHN, "subscribe")
    assert run(app, JOHN, "afmeld").language == "en"
    assert stored_language(app, "john@example.org") == "en"
    assert len(language_events(app)) == 1


def test_a_language_from_the_platform_wins_over_the_words(app: App) -> None:
    english_console = person("anne@region.dk", language="en")
    assert run(app, english_console, "meld på").language == "en"
    assert stored_language(app, "anne@region.dk") == "en"


def test_a_refusal_is_in_the_language_of_the_words_and_stores_nothing(app: App) -> None:
    add_series(app, "verdensmaal", "da")
    reply = run(app, METTE, "tilmeld")
    assert (reply.key, reply.language) == ("which_series", "da")
    with app.db.read() as s:
        assert s.scalars(select(Person)).all() == []


def test_a_typo_is_answered_in_its_language_but_not_learned(app: App) -> None:
    run(app, ORGANISER, "gi arrangør john@example.org")
    reply = run(app, JOHN, "unsubcribe")
    assert (reply.key, reply.language) == ("unknown", "en")
    assert reply.data["suggestion"] == "unsubscribe"
    assert stored_language(app, "john@example.org") is None


def test_the_words_language_survives_the_inbox(app: App) -> None:
    actor, command = from_payload(to_payload(METTE, parse("frameld")))
    assert command.said_in == frozenset({"da"})
    assert run(app, actor, "frameld").language == "da"


# --- choosing ------------------------------------------------------------------------------------


def test_choosing_a_language_stores_it_audited_and_answers_in_it(app: App, say: Callable[..., str]) -> None:
    run(app, KARI, "meld på")
    assert "Fra nu af svarer jeg dig på dansk" in say(KARI, "sprog da")
    assert stored_language(app, "kari@kommune.no") == "da"
    assert language_events(app)[-1] == ("person.language_chosen", {"language": "da", "before": "nb"})
    assert run(app, KARI, "subscribe").language == "da"  # chosen: the words no longer decide
    assert "from now on I'll write to you in English" in say(KARI, "language en")
    assert "Frå no av svarar eg deg på nynorsk" in say(KARI, "mål nynorsk")
    assert "Fra nå av svarer jeg deg på bokmål" in say(KARI, "språk bokmål")
    assert [action for action, _ in language_events(app)].count("person.language_chosen") == 4


def test_choosing_the_same_language_again_changes_nothing(app: App, say: Callable[..., str]) -> None:
    say(JOHN, "language en")
    say(JOHN, "language english")
    assert [action for action, _ in language_events(app)] == ["person.language_chosen"]


def test_a_new_person_can_choose_before_anything_else(app: App) -> None:
    reply = run(app, METTE, "sprog dansk")
    assert (reply.key, reply.language) == ("language_set", "da")
    assert stored_language(app, "mette@region.dk") == "da"
    with app.db.read() as s:
        assert s.scalars(select(Subscription)).all() == []  # choosing a language subscribes nobody


def test_an_unknown_language_is_refused_with_the_supported_ones(app: App, say: Callable[..., str]) -> None:
    reply = say(JOHN, "language klingon")
    assert "I don't speak “klingon”" in reply
    for command in ("språk nb", "language en", "sprog da", "språk nn"):
        assert command in reply
    with app.db.read() as s:
        assert s.scalars(select(Person)).all() == []


def test_the_language_command_alone_tells_which_is_used(app: App, say: Callable[..., str]) -> None:
    assert "Jeg svarer deg på det språket du skriver til meg på" in say(KARI, "språk")
    say(KARI, "sprog da")
    assert "Jeg svarer dig på dansk" in say(KARI, "språk")
