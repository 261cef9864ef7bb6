"""One argument parser per command key: the words after the command word to a `Command`.

A handler raises `Problem` for arguments it cannot use, and returns `None` when the words after all
were no command (the caller makes that `Unknown`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from bot.addresses import BadAddress, mailbox
from bot.commands import (
    AddLink,
    AddSession,
    Archive,
    CancelSession,
    ChangeSession,
    Command,
    CountSubscribers,
    ForgetMe,
    GrantOrganiser,
    Help,
    InviteColleague,
    MyData,
    NextSession,
    OpenStart,
    RemoveLink,
    RevokeOrganiser,
    SessionFields,
    SessionNumbers,
    SetDirectMessages,
    SetLanguage,
    SetRecurrence,
    Status,
    Subscribe,
    Unsubscribe,
)
from bot.parser.aliases import LINK_KEY_TABLE, LINK_KIND_TABLE, SESSION_KEY_TABLE
from bot.parser.fields import (
    parse_options,
    parse_start,
    parse_url,
    session_fields,
    split_options,
    starts_a_date,
)
from bot.parser.problems import Problem
from bot.parser.recurrence_rule import is_off, is_rule_start, parse_rule
from bot.parser.tokens import (
    TRAILING,
    Token,
    fold_spelling,
    is_slug_like,
    join,
    key_form,
    no_more,
    parse_identity,
    slug,
    take_id,
    tokenise,
)
from bot.text import visible

Handler = Callable[[Sequence[Token]], Command | None]

_CONFIRM = frozenset({"bekreft", "confirm", "bekraeft", "ja", "yes"})
# `; likevel` after a session's options: plan it although it overlaps another session (nb/nn, da, en).
FORCE_WORDS = frozenset({"likevel", "uansett", "tving", "alligevel", "force", "anyway"})


def _series_command(make: Callable[[str | None], Command]) -> Handler:
    """A command that takes at most one word: the series slug."""

    def handle(args: Sequence[Token]) -> Command:
        words = [token for token in args if token.meaningful]
        if len(words) > 1:
            raise Problem("unexpected_text", join(args))
        return make(slug(words[0]) if words else None)

    return handle


def _help(args: Sequence[Token]) -> Command:
    return Help()


def _my_data(args: Sequence[Token]) -> Command | None:
    return None if any(token.meaningful for token in args) else MyData()


# Languages by the names people give them (folded words); anything else is refused by the core.
_LANGUAGE_NAMES: Mapping[str, str] = {
    **dict.fromkeys(
        ("nb", "bokmal", "norsk bokmal", "norsk", "norwegian", "norwegian bokmal", "no", "nob"), "nb"
    ),
    **dict.fromkeys(("nn", "nynorsk", "norsk nynorsk", "norwegian nynorsk", "nno"), "nn"),
    **dict.fromkeys(("en", "engelsk", "english", "eng"), "en"),
    **dict.fromkeys(("da", "dansk", "danish", "dan"), "da"),
}
_SHOWN_LIMIT = 40  # of a language name the core cannot use, echoed in its refusal


def _language(args: Sequence[Token]) -> Command:
    words = [fold_spelling(token.word) for token in args if token.meaningful]
    if not words:
        return SetLanguage()
    named = _LANGUAGE_NAMES.get(" ".join(words))
    return SetLanguage(named or visible(join(args))[:_SHOWN_LIMIT])


def _forget_me(args: Sequence[Token]) -> Command:
    words = [token for token in args if token.meaningful]
    if not words:
        return ForgetMe(confirmed=False)
    if len(words) == 1 and words[0].word in _CONFIRM:
        return ForgetMe(confirmed=True)
    raise Problem("unexpected_text", join(args))


def _forced(segments: list[str]) -> tuple[list[str], bool]:
    """The option segments without a word that forces a clash through (`; likevel`), and whether
    one was there."""
    kept = [segment for segment in segments if key_form(segment) not in FORCE_WORDS]
    return kept, len(kept) < len(segments)


def _add_session(args: Sequence[Token]) -> Command:
    head, segments = split_options(join(args))
    segments, force = _forced(segments)
    tokens = tokenise(head)
    series = None
    if tokens and is_slug_like(tokens[0]) and not starts_a_date(tokens):
        series, tokens = slug(tokens[0]), tokens[1:]
    start, used = parse_start(tokens)
    fields = session_fields(parse_options(segments, SESSION_KEY_TABLE))
    start = fields.start_local or fields.open_start or start
    title = fields.title or join(tokens[used:])
    if start is None:
        raise Problem("missing_start")
    if not title:
        raise Problem("missing_title")
    return AddSession(
        SessionFields(
            title=title,
            start_local=start if isinstance(start, datetime) else None,
            open_start=start if isinstance(start, OpenStart) else None,
            duration_minutes=fields.duration_minutes,
            topic=fields.topic,
            speakers=fields.speakers,
            description=fields.description,
            join_url=fields.join_url,
        ),
        series=series,
        force=force,
    )


def _change_session(args: Sequence[Token]) -> Command:
    head, segments = split_options(join(args))
    tokens = tokenise(head)
    session_id = take_id(tokens)
    if len(tokens) > 1:
        segments = [join(tokens[1:]), *segments]
    segments, force = _forced(segments)
    options = parse_options(segments, SESSION_KEY_TABLE)
    if not options:
        raise Problem("no_changes")
    return ChangeSession(session_id, session_fields(options), force=force)


def _cancel_session(args: Sequence[Token]) -> Command:
    session_id = take_id(args)
    no_more(args[1:])
    return CancelSession(session_id)


def _recurrence(args: Sequence[Token]) -> Command:
    series = None
    rest = list(args)
    if rest and not is_rule_start(rest[0]):
        series, rest = slug(rest[0]), rest[1:]
    if is_off(rest):
        return SetRecurrence(rule=None, series=series)
    return SetRecurrence(rule=parse_rule(join(rest)), series=series)


def _add_link(args: Sequence[Token]) -> Command:
    head, segments = split_options(join(args))
    tokens = tokenise(head)
    session_id = take_id(tokens)
    if len(tokens) < 2:
        raise Problem("missing_url")
    url = parse_url(tokens[1].raw)
    options = parse_options(segments, LINK_KEY_TABLE)
    title = options.get("title") or join(tokens[2:])
    if not title:
        raise Problem("missing_title")
    kind = "slides"
    if "kind" in options:
        found = LINK_KIND_TABLE.get(key_form(options["kind"]))
        if found is None:
            raise Problem("bad_link_kind", options["kind"])
        kind = found
    return AddLink(session_id, url, title, speaker=options.get("speaker"), kind=kind)


def _remove_link(args: Sequence[Token]) -> Command:
    link_id = take_id(args)
    no_more(args[1:])
    return RemoveLink(link_id)


_count_series = _series_command(CountSubscribers)
# `antall økt 12`, `count session 12`, `antal møde 12`: the word for a session before its number.
_SESSION_WORDS = frozenset({"okt", "session", "mode"})


def _count(args: Sequence[Token]) -> Command | None:
    """`antall [serie]` counts a series' subscribers; `antall [økt] 12` gives session 12's numbers."""
    words = [token for token in args if token.meaningful]
    if len(words) > 1 and words[0].word in _SESSION_WORDS and not is_slug_like(words[1]):
        words = words[1:]
    if words and not is_slug_like(words[0]):
        session_id = take_id(words)
        no_more(words[1:])
        return SessionNumbers(session_id)
    return _count_series(args)


def _organiser_command(make: Callable[[str, str | None], Command]) -> Handler:
    """`IDENTITY [SLUG]`, for granting and revoking organiser rights."""

    def handle(args: Sequence[Token]) -> Command:
        words = [token for token in args if token.meaningful]
        if not words:
            raise Problem("missing_identity")
        identity = parse_identity(words[0])
        if len(words) > 2:
            raise Problem("unexpected_text", join(words[1:]))
        return make(identity, slug(words[1]) if len(words) == 2 else None)

    return handle


def _invite_colleague(args: Sequence[Token]) -> Command:
    """`ADDRESS [SLUG]`: the colleague's address, then the series where there are several."""
    words = [token for token in args if token.meaningful]
    if not words:
        raise Problem("missing_address")
    text = words[0].raw.rstrip(TRAILING)
    try:
        address = mailbox(text.removeprefix("mailto:"))
    except BadAddress:
        raise Problem("bad_address", words[0].raw) from None
    if len(words) > 2:
        raise Problem("unexpected_text", join(words[1:]))
    return InviteColleague(address, slug(words[1]) if len(words) == 2 else None)


HANDLERS: Mapping[str, Handler] = {
    "subscribe": _series_command(Subscribe),
    "unsubscribe": _series_command(Unsubscribe),
    "invite_colleague": _invite_colleague,
    "status": _series_command(Status),
    "next": _series_command(NextSession),
    "archive": _series_command(Archive),
    "help": _help,
    "my_data": _my_data,
    "language": _language,
    "forget_me": _forget_me,
    "add_session": _add_session,
    "change_session": _change_session,
    "cancel_session": _cancel_session,
    "recurrence": _recurrence,
    "add_link": _add_link,
    "remove_link": _remove_link,
    "count": _count,
    "dm_on": _series_command(lambda series: SetDirectMessages(True, series)),
    "dm_off": _series_command(lambda series: SetDirectMessages(False, series)),
    "grant_organiser": _organiser_command(GrantOrganiser),
    "revoke_organiser": _organiser_command(RevokeOrganiser),
}
