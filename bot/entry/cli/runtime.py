"""`baerekraft-bot run` and `shell` as Typer commands: their options and help. `bot/entry/cli/launch.py`
carries them out (and starts a plain `run` without Typer)."""

from __future__ import annotations

import typer

from bot.entry.cli import launch


def shell(
    as_: str = typer.Option(..., "--as", help="Your e-mail address: who you are in this shell."),
    name: str | None = typer.Option(None, "--name", help="Your name."),
    organiser: bool = typer.Option(
        False, "--organiser", help="Act with organiser rights in every series (local operator)."
    ),
    language: str | None = typer.Option(None, "--language", help="nb, en, da or nn (default: the series')."),
) -> None:
    """Talk to the bot on standard input, interactively or through a pipe."""
    launch.talk(as_, name, organiser, language)


def run(
    console: bool | None = typer.Option(
        None,
        "--console/--no-console",
        help="Read commands from standard input; by default only when no chat channel is configured.",
    ),
) -> None:
    """Migrate the database and start the bot: web server, every configured channel, the schedule.

    Without Slack or Microsoft credentials this is console mode: you talk to the bot here, and end
    of input stops it. With --no-console (a service) it runs until SIGTERM or Ctrl-C.
    """
    launch.run(console)
