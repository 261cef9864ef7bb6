"""Command words and option keys in Norwegian bokmål, English and Danish, and matching against them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.parser.tokens import Token, key_form, word_form

USAGES: frozenset[str] = frozenset(
    {
        "subscribe",
        "unsubscribe",
        "status",
        "next",
        "archive",
        "help",
        "forget_me",
        "add_session",
        "change_session",
        "cancel_session",
        "recurrence",
        "add_link",
        "remove_link",
        "count",
        "grant_organiser",
        "revoke_organiser",
        "dm_on",
        "dm_off",
    }
)

# Command words per command key, as people write them; normalised when the table is built.
# The keys are the usage keys, except `my_data`, which takes no arguments and has no usage line.
ALIASES: Mapping[str, tuple[str, ...]] = {
    "subscribe": ("meld på", "meld meg på", "abonner", "subscribe", "tilmeld", "tilmeld mig"),
    "unsubscribe": (
        "meld av",
        "meld meg av",
        "avmeld",
        "avslutt abonnement",
        "unsubscribe",
        "afmeld",
        "afmeld mig",
        "stopp",
        "stop",
    ),
    "status": ("status",),
    "next": ("neste", "neste økt", "next", "next session", "næste"),
    "archive": ("arkiv", "arkivet", "lenker", "slides", "archive", "links"),
    "help": ("hjelp", "help", "hjælp", "?", "kommandoer", "commands"),
    "my_data": ("mine data", "my data", "hva vet du om meg", "what do you know about me"),
    "forget_me": (
        "slett meg",
        "slett mine data",
        "forget me",
        "delete my data",
        "slet mig",
        "slet mine data",
    ),
    "dm_on": (
        "dm på",
        "direktemeldinger på",
        "påminnelser på dm",
        "dm on",
        "direct messages on",
        "dm til",
    ),
    "dm_off": ("dm av", "direktemeldinger av", "ingen dm", "dm off", "direct messages off", "dm fra"),
    "add_session": ("ny økt", "legg til økt", "add session", "new session", "ny session", "tilføj session"),
    "change_session": ("endre økt", "endre", "change session", "edit session", "ret session"),
    "cancel_session": ("avlys økt", "avlys", "cancel session", "cancel", "aflys", "aflys session"),
    "recurrence": ("gjentakelse", "gjentak", "recurrence", "repeat", "gentagelse"),
    "add_link": ("ny lenke", "legg til lenke", "add link", "new link", "tilføj link"),
    "remove_link": ("fjern lenke", "slett lenke", "remove link", "delete link", "slet link"),
    "count": (
        "antall",
        "antall abonnenter",
        "count",
        "count subscribers",
        "antal",
        "antal abonnenter",
    ),
    "grant_organiser": (
        "gi arrangør",
        "ny arrangør",
        "legg til arrangør",
        "tilføj arrangør",
        "grant organiser",
        "grant organizer",
        "add organiser",
        "add organizer",
    ),
    "revoke_organiser": (
        "fjern arrangør",
        "revoke organiser",
        "revoke organizer",
        "remove organiser",
        "remove organizer",
    ),
}

# Option keys (`key=value` after a `;`) per session field.
SESSION_KEYS: Mapping[str, tuple[str, ...]] = {
    "title": ("tittel", "title", "titel"),
    "topic": ("tema", "topic", "emne"),
    "duration": ("varighet", "duration", "varighed"),
    "speakers": (
        "foredragsholdere",
        "foredragsholder",
        "speakers",
        "speaker",
        "talere",
        "taler",
        "oplægsholdere",
        "oplægsholder",
    ),
    "description": ("beskrivelse", "agenda", "description", "program"),
    "join_url": ("lenke", "join", "url", "join_url", "join url", "møtelenke", "moetelenke", "link"),
    "start": ("start",),
}
LINK_KEYS: Mapping[str, tuple[str, ...]] = {
    "title": SESSION_KEYS["title"],
    "speaker": SESSION_KEYS["speakers"],
}


def _key_table(keys: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {key_form(alias): name for name, aliases in keys.items() for alias in aliases}


def _alias_table() -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for command, aliases in ALIASES.items():
        for alias in aliases:
            words = tuple(word_form(part) for part in alias.split())
            if table.setdefault(words, command) != command:
                raise ValueError(f"alias {alias!r} is given to two commands")
    return table


_ALIAS_TABLE = _alias_table()
_LONGEST_ALIAS = max(len(words) for words in _ALIAS_TABLE)
SESSION_KEY_TABLE = _key_table(SESSION_KEYS)
LINK_KEY_TABLE = _key_table(LINK_KEYS)


def match_alias(tokens: Sequence[Token]) -> tuple[str, int] | None:
    """The command key of the longest alias `tokens` begin with, and its length in tokens."""
    words = tuple(token.word for token in tokens[:_LONGEST_ALIAS])
    for length in range(len(words), 0, -1):
        command = _ALIAS_TABLE.get(words[:length])
        if command is not None:
            return command, length
    return None
