"""Free text to a neutral command: the one grammar every text channel shares.

`parse` matches command words on normalised tokens (see `bot.text.normalise`, and `tokens.fold_spelling`
for `paa`) against a table of Norwegian (bokmål and nynorsk), English and Danish aliases, the longest
alias first, and notes on the command which languages its words belong to (`said_in`). A greeting or
thanks before a command is skipped; alone it is small talk. Text that is no command gets the nearest
command word as a suggestion. Arguments (titles, names, URLs) are taken from the original text, with
whitespace collapsed. The parser is pure and total: anything it cannot use becomes `Unknown` or
`Invalid`, never an exception. It uses no regular expression that can backtrack badly, and refuses
input over `MAX_LENGTH` characters up front.

The modules: `aliases` (command words, their languages and option keys), `tokens` (words, slugs, ids,
identities), `fields` (dates, times, durations, URLs, options), `calendar_words` (weekdays and months),
`recurrence_rule` (the recurrence grammar), `handlers` (one argument parser per command),
`suggestions` (the nearest command word) and `problems` (what can be wrong with arguments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.commands import Command, Help, Invalid, SmallTalk, Unknown
from bot.parser.aliases import ALIASES, LINK_KEYS, SESSION_KEYS, USAGES, WORDS, match_alias
from bot.parser.handlers import HANDLERS
from bot.parser.problems import PROBLEMS, Problem
from bot.parser.suggestions import nearest_alias
from bot.parser.tokens import Token, tokenise
from bot.text import visible

__all__ = [
    "ALIASES",
    "LINK_KEYS",
    "MAX_LENGTH",
    "PROBLEMS",
    "SESSION_KEYS",
    "USAGES",
    "WORDS",
    "parse",
    "said_in",
]

MAX_LENGTH = 4000
_SMALL_TALK = frozenset({"greeting", "thanks"})


def parse(text: str) -> Command:
    """The command `text` asks for; `Unknown` or `Invalid` when it cannot be carried out as written."""
    if len(text) > MAX_LENGTH:
        return Invalid(usage="help", problem="too_long")
    # `;` separates options; as a word of its own it cannot hide in a command word ("ny økt;").
    tokens = tokenise(text.replace(";", " ; "))
    if not tokens:
        return Help()
    return _command(text, tokens, small_talk_first=True)


def _command(text: str, tokens: Sequence[Token], *, small_talk_first: bool) -> Command:
    matched = match_alias(tokens)
    if matched is None:
        return _unknown(text, tokens)
    command, length, said = matched
    rest = tokens[length:]
    if command in _SMALL_TALK:
        return _small_talk(text, command, said, rest, again=small_talk_first)
    try:
        result = HANDLERS[command](rest)
    except Problem as problem:
        usage = command if command in USAGES else "help"
        return Invalid(usage=usage, problem=problem.problem, detail=visible(problem.detail), said_in=said)
    return _unknown(text, tokens) if result is None else replace(result, said_in=said)


def _small_talk(text: str, kind: str, said: frozenset[str], rest: Sequence[Token], *, again: bool) -> Command:
    """`hei`, `takk`: small talk; `hei, meld meg på`: the command after the greeting. Thanks with
    more words (`takk for i dag`) stay thanks; a greeting before words that are no command is
    `Unknown`, with the suggestion for those words."""
    if not any(token.meaningful for token in rest):
        return SmallTalk(kind, said_in=said)
    after = _command(text, rest, small_talk_first=False) if again else _unknown(text, rest)
    if not isinstance(after, Unknown):
        return after if after.said_in else replace(after, said_in=said)
    if kind == "thanks":
        return SmallTalk(kind, said_in=said)
    return after if after.said_in else replace(after, said_in=said)


def _unknown(text: str, tokens: Sequence[Token]) -> Unknown:
    suggestion = nearest_alias(tokens)
    return Unknown(
        text=text, suggestion=suggestion, said_in=said_in(suggestion) if suggestion else frozenset()
    )


def said_in(alias: str) -> frozenset[str]:
    """The languages a command word (as written in the table) belongs to; empty: every language's."""
    matched = match_alias(tokenise(alias))
    return matched[2] if matched is not None else frozenset()
