"""The `baerekraft-bot` command line as a Typer app: every command, its options and its help.

Each command's module is imported when that command is run (or its help shown), not all of them at
start: `subscribers export` does not load the web server, the scheduler or the dashboard. `COMMANDS`
lists them all, in the order `--help` shows them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperGroup

# Command name → (module, attribute): a Typer app (a group of commands) or a command function.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("bot.entry.cli.runtime", "run"),
    "shell": ("bot.entry.cli.runtime", "shell"),
    "send": ("bot.entry.cli.deliveries", "send"),
    "db": ("bot.entry.cli.db", "app"),
    "series": ("bot.entry.cli.series", "app"),
    "sessions": ("bot.entry.cli.sessions", "app"),
    "links": ("bot.entry.cli.sessions", "links_app"),
    "organisers": ("bot.entry.cli.organisers", "app"),
    "subscribers": ("bot.entry.cli.subscribers", "app"),
    "deliveries": ("bot.entry.cli.deliveries", "app"),
    "teams": ("bot.entry.cli.teams", "app"),
    "dashboard": ("bot.entry.cli.dashboard", "app"),
}


class LazyCommands(MutableMapping[str, Any]):
    """The commands by name; each built from its module the first time it is looked up."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        self.table = table
        self.built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.built:
            module, attribute = self.table[name]
            self.built[name] = _click_command(name, getattr(importlib.import_module(module), attribute))
        return self.built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.built[name] = command
        self.table.setdefault(name, ("", ""))

    def __delitem__(self, name: str) -> None:
        self.built.pop(name, None)
        del self.table[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)


class LazyGroup(TyperGroup):
    """The top-level group: its commands come from `COMMANDS`, imported when asked for."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(dict(COMMANDS))

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names only: listing imports nothing


def _click_command(name: str, found: typer.Typer | Any) -> Any:
    """The click group of a Typer app, or the command of a function registered under `name`."""
    if isinstance(found, typer.Typer):
        group = typer.main.get_group(found)
        group.name = name
        return group
    single = typer.Typer()
    single.command(name)(found)
    return typer.main.get_command(single)


app = typer.Typer(cls=LazyGroup, no_args_is_help=True, pretty_exceptions_show_locals=False)


@app.callback()
def _bot() -> None:
    """Bærekraftsfredag bot: subscriptions, sessions, invitations and slides for webinar series."""
