"""A command and who sent it as JSON, for a request recorded in the inbox and carried out from its row.

Only commands whose fields are plain values (text, numbers, yes/no) travel this way: the ones a web
page or a button makes. A channel that records free text (a chat line) records the text and parses
it when the request is carried out.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, get_args

from bot import commands as c

PLAIN = (str, int, bool, type(None))
COMMANDS: dict[str, type[Any]] = {kind.__name__: kind for kind in get_args(c.Command)}


def to_payload(actor: c.Actor, command: c.Command) -> dict[str, Any]:
    values = asdict(command)
    said_in = sorted(values.pop("said_in"))
    if not all(isinstance(value, PLAIN) for value in values.values()):
        raise TypeError(f"{type(command).__name__} has fields that are not plain values")
    return {"actor": asdict(actor), "command": type(command).__name__, "fields": values, "said_in": said_in}


def from_payload(payload: dict[str, Any]) -> tuple[c.Actor, c.Command]:
    kind = COMMANDS[str(payload["command"])]
    known = {f.name for f in fields(kind)}
    values = {name: value for name, value in dict(payload["fields"]).items() if name in known}
    values["said_in"] = frozenset(str(language) for language in payload.get("said_in", ()))
    command: c.Command = kind(**values)
    return c.Actor(**payload["actor"]), command
