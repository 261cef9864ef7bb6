"""Free text to a neutral command: the one grammar every text channel shares.

`parse` matches command words on normalised tokens (see `bot.text.normalise`) against a table of
Norwegian bokmål, English and Danish aliases, the longest alias first. Arguments (titles, names,
URLs) are taken from the original text, with whitespace collapsed. The parser is pure and total:
anything it cannot use becomes `Unknown` or `Invalid`, never an exception. It uses no regular
expression that can backtrack badly, and refuses input over `MAX_LENGTH` characters up front.

The modules: `aliases` (command words and option keys), `tokens` (words, slugs, ids, identities),
`fields` (dates, times, durations, URLs, options), `recurrence_rule` (the recurrence grammar),
`handlers` (one argument parser per command) and `problems` (what can be wrong with arguments).
"""

from __future__ import annotations

from bot.commands import Command, Help, Invalid, Unknown
from bot.parser.aliases import ALIASES, LINK_KEYS, SESSION_KEYS, USAGES, match_alias
from bot.parser.handlers import HANDLERS
from bot.parser.problems import PROBLEMS, Problem
from bot.parser.tokens import tokenise
from bot.text import visible

__all__ = ["ALIASES", "LINK_KEYS", "MAX_LENGTH", "PROBLEMS", "SESSION_KEYS", "USAGES", "parse"]

MAX_LENGTH = 4000


def parse(text: str) -> Command:
    """The command `text` asks for; `Unknown` or `Invalid` when it cannot be carried out as written."""
    if len(text) > MAX_LENGTH:
        return Invalid(usage="help", problem="too_long")
    # `;` separates options; as a word of its own it cannot hide in a command word ("ny økt;").
    tokens = tokenise(text.replace(";", " ; "))
    if not tokens:
        return Help()
    matched = match_alias(tokens)
    if matched is None:
        return Unknown(text=text)
    command, length = matched
    try:
        result = HANDLERS[command](tokens[length:])
    except Problem as problem:
        usage = command if command in USAGES else "help"
        return Invalid(usage=usage, problem=problem.problem, detail=visible(problem.detail))
    return Unknown(text=text) if result is None else result
