"""The language someone is answered in: the one they chose (`språk en`), else the one they write in.

A person with no language of their own (none chosen, none from their platform, such as a Slack
locale) gets it from the words of their first command that tells (`subscribe` is English, `tilmeld`
Danish, `meld på` Norwegian: the series' bokmål or nynorsk), and keeps it until they choose one.
Words of every language (`status`) tell nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.models import Person
from bot.services import audit
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.people import find_person, get_or_create_person
from bot.settings import LANGUAGES


def spoken(said_in: frozenset[str], preferred: Iterable[str | None]) -> str | None:
    """The language of words that belong to `said_in`, or None when they do not tell. Among several
    (`meld på`: bokmål or nynorsk) the first of `preferred` that fits (the series', the bot's), else
    the first in `LANGUAGES`."""
    usable = said_in.intersection(LANGUAGES)
    if not usable or len(usable) == len(LANGUAGES):
        return None
    for language in preferred:
        if language in usable:
            return language
    return next(language for language in LANGUAGES if language in usable)


def learn(ctx: Ctx, language: str) -> None:
    """Keep the language the actor was answered in as their own, when they are known and have none
    yet: their platform's when it gives one, else `language` (the one they wrote in)."""
    person = find_person(ctx.s, ctx.actor)
    if person is None or person.language:
        return
    language = ctx.actor.language or language
    person.language = language
    audit.record(ctx, "person.language_learned", subject=("person", person.id), language=language)


def choose(ctx: Ctx, language: str) -> Person:
    """The actor's own language from now on (they become known if they were not); unknown codes
    are refused with the supported ones."""
    if language not in LANGUAGES:
        raise UserError("language_unknown", language=language, languages=list(LANGUAGES))
    person = get_or_create_person(ctx.s, ctx.actor, ctx.now)
    if person.language != language:
        before = person.language
        person.language = language
        audit.record(
            ctx, "person.language_chosen", subject=("person", person.id), language=language, before=before
        )
    return person
