"""Command words and option keys in Norwegian (bokmål and nynorsk), English and Danish, the language
each word belongs to, and matching against them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.parser.tokens import Token, fold_spelling, key_form, word_form

USAGES: frozenset[str] = frozenset(
    {
        "subscribe",
        "unsubscribe",
        "invite_colleague",
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

# Who writes a word: a language code, or `no` for Norwegian (bokmål and nynorsk alike), or `any` for a
# word of every language here (`status`), which tells nothing about the writer.
GROUPS: Mapping[str, frozenset[str]] = {
    "nb": frozenset({"nb"}),
    "nn": frozenset({"nn"}),
    "no": frozenset({"nb", "nn"}),
    "en": frozenset({"en"}),
    "da": frozenset({"da"}),
    "any": frozenset(),
}

# Command words per command key and group, as people write them; folded when the table is built.
# The keys are the usage keys, except those that take no arguments and have no usage line (`my_data`,
# `language`, and the small talk: `greeting`, `thanks`). A word in two groups belongs to both.
WORDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "subscribe": {
        "no": ("meld på", "meld meg på", "mld på", "påmelding", "melde meg på", "abonner"),
        "en": ("subscribe", "sign up", "sign me up"),
        "da": ("tilmeld", "tilmeld mig", "tilmelding", "meld mig til", "meld mig på", "abonner"),
    },
    "unsubscribe": {
        "no": (
            "meld av",
            "meld meg av",
            "mld av",
            "avmeld",
            "avmelding",
            "melde meg av",
            "avslutt abonnement",
            "stopp",
        ),
        "en": ("unsubscribe", "stop"),
        "da": (
            "afmeld",
            "afmeld mig",
            "afmelding",
            "frameld",
            "frameld mig",
            "framelding",
            "meld mig af",
            "meld mig fra",
            "stop",
        ),
    },
    "invite_colleague": {
        "no": ("inviter kollega", "ta med kollega"),
        "nb": ("inviter en kollega", "ta med en kollega"),
        "nn": ("inviter ein kollega", "ta med ein kollega"),
        "en": ("invite colleague", "invite a colleague", "bring a colleague"),
        "da": ("inviter kollega", "inviter en kollega", "invitér kollega", "invitér en kollega"),
    },
    "status": {"any": ("status",)},
    "next": {
        "no": ("neste", "neste økt"),
        "en": ("next", "next session"),
        "da": ("næste", "næste møde", "næste session"),
    },
    "archive": {
        "no": ("arkiv", "arkivet", "lenker", "lysark", "opptak", "presentasjoner"),
        "nn": ("presentasjonar", "lenkjer"),
        "en": ("archive", "links", "presentations", "recordings"),
        "da": ("arkiv", "arkivet", "links", "præsentationer", "optagelser", "optagelse"),
        "any": ("slides",),
    },
    "help": {
        "no": ("hjelp", "kommandoer"),
        "nn": ("kommandoar",),
        "en": ("help", "commands"),
        "da": ("hjælp", "kommandoer"),
        "any": ("?",),
    },
    "my_data": {
        "nb": ("hva vet du om meg",),
        "nn": ("kva veit du om meg",),
        "no": ("mine data",),
        "en": ("my data", "what do you know about me"),
        "da": ("mine data", "hvad ved du om mig"),
    },
    "forget_me": {
        "no": ("slett meg", "slett mine data"),
        "en": ("forget me", "delete my data"),
        "da": ("slet mig", "slet mine data", "glem mig"),
    },
    "language": {
        "no": ("språk", "målform"),
        "nn": ("mål",),
        "en": ("language",),
        "da": ("sprog",),
    },
    "greeting": {
        "no": ("hei", "heisann", "god morgen", "god dag"),
        "nn": ("hei på deg",),
        "en": ("hi", "hello", "hey", "good morning"),
        "da": ("hej", "godmorgen", "goddag"),
        "any": ("hallo",),
    },
    "thanks": {
        "no": ("takk", "tusen takk", "takk skal du ha", "mange takk"),
        "en": ("thanks", "thank you", "thx"),
        "da": ("tak", "tusind tak", "mange tak"),
    },
    "dm_on": {
        "no": ("dm på", "direktemeldinger på", "påminnelser på dm", "dm til"),
        "en": ("dm on", "direct messages on"),
        "da": ("dm til",),
    },
    "dm_off": {
        "no": ("dm av", "direktemeldinger av", "ingen dm", "dm fra"),
        "en": ("dm off", "direct messages off"),
        "da": ("dm fra",),
    },
    "add_session": {
        "no": ("ny økt", "legg til økt"),
        "en": ("add session", "new session"),
        "da": ("ny session", "tilføj session"),
    },
    "change_session": {
        "no": ("endre økt", "endre"),
        "en": ("change session", "edit session"),
        "da": ("ret session",),
    },
    "cancel_session": {
        "no": ("avlys økt", "avlys"),
        "en": ("cancel session", "cancel"),
        "da": ("aflys", "aflys session"),
    },
    "recurrence": {
        "nb": ("gjentakelse",),
        "nn": ("gjentaking",),
        "no": ("gjentak",),
        "en": ("recurrence", "repeat"),
        "da": ("gentagelse",),
    },
    "add_link": {
        "no": ("ny lenke", "legg til lenke"),
        "en": ("add link", "new link"),
        "da": ("tilføj link",),
    },
    "remove_link": {
        "no": ("fjern lenke", "slett lenke"),
        "en": ("remove link", "delete link"),
        "da": ("slet link",),
    },
    "count": {
        "no": ("antall", "antall abonnenter"),
        "en": ("count", "count subscribers"),
        "da": ("antal", "antal abonnenter"),
    },
    "grant_organiser": {
        "no": ("gi arrangør", "ny arrangør", "legg til arrangør"),
        "en": ("grant organiser", "grant organizer", "add organiser", "add organizer"),
        "da": ("tilføj arrangør",),
    },
    "revoke_organiser": {
        "no": ("fjern arrangør",),
        "da": ("fjern arrangør",),
        "en": ("revoke organiser", "revoke organizer", "remove organiser", "remove organizer"),
    },
}


def _flatten(words: Mapping[str, Mapping[str, tuple[str, ...]]]) -> dict[str, tuple[str, ...]]:
    flat: dict[str, tuple[str, ...]] = {}
    for command, groups in words.items():
        flat[command] = tuple(dict.fromkeys(alias for aliases in groups.values() for alias in aliases))
    return flat


# Every command word per command key, whatever its language.
ALIASES: Mapping[str, tuple[str, ...]] = _flatten(WORDS)

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
    "kind": ("type", "kind", "art", "slag"),
}

# What a link is (`type=opptak`), per kind (bot.models.LinkKind), in nb/nn, en and da.
LINK_KINDS: Mapping[str, tuple[str, ...]] = {
    "recording": ("opptak", "opptaket", "recording", "video", "optagelse", "optagelsen", "opptaking"),
    "slides": ("lysark", "slides", "presentasjon", "presentation", "præsentation", "dias", "slide"),
}


def alias_words(alias: str) -> tuple[str, ...]:
    """An alias (or what someone typed) as the words it is matched by: folded, `aa` read as `å`."""
    return tuple(fold_spelling(word_form(part)) for part in alias.split())


def _key_table(keys: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {key_form(alias): name for name, aliases in keys.items() for alias in aliases}


def _alias_table() -> tuple[dict[tuple[str, ...], str], dict[tuple[str, ...], frozenset[str]]]:
    commands: dict[tuple[str, ...], str] = {}
    languages: dict[tuple[str, ...], frozenset[str]] = {}
    for command, groups in WORDS.items():
        for group, aliases in groups.items():
            for alias in aliases:
                words = alias_words(alias)
                if commands.setdefault(words, command) != command:
                    raise ValueError(f"alias {alias!r} is given to two commands")
                said = GROUPS[group]
                if words in languages:
                    # In two groups: both languages; a word of every language (empty) stays that.
                    before = languages[words]
                    said = before | said if before and said else frozenset()
                languages[words] = said
    return commands, languages


_ALIAS_TABLE, _LANGUAGE_TABLE = _alias_table()
_LONGEST_ALIAS = max(len(words) for words in _ALIAS_TABLE)
SESSION_KEY_TABLE = _key_table(SESSION_KEYS)
LINK_KEY_TABLE = _key_table(LINK_KEYS)
LINK_KIND_TABLE = _key_table(LINK_KINDS)


def match_alias(tokens: Sequence[Token]) -> tuple[str, int, frozenset[str]] | None:
    """The command key of the longest alias `tokens` begin with, its length in tokens, and the
    languages the alias belongs to (empty: every language's word)."""
    words = tuple(fold_spelling(token.word) for token in tokens[:_LONGEST_ALIAS])
    for length in range(len(words), 0, -1):
        command = _ALIAS_TABLE.get(words[:length])
        if command is not None:
            return command, length, _LANGUAGE_TABLE[words[:length]]
    return None


def written_aliases() -> Mapping[tuple[str, ...], str]:
    """Every alias in matching form, to the alias as written in `WORDS` (for suggestions)."""
    return _WRITTEN


_WRITTEN: dict[tuple[str, ...], str] = {}
for _aliases in ALIASES.values():
    for _alias in _aliases:
        _WRITTEN.setdefault(alias_words(_alias), _alias)
