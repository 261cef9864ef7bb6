"""The `baerekraft-bot` command line (`python -m bot` too): run the bot, talk to it, and operate it.

Typer (`bot/entry/cli/typer_app.py`) reads every command line but two: a plain `run` (alone, or with
`--console` or `--no-console`) starts the bot directly (`bot/entry/cli/launch.py`), for Typer loads
pydantic and rich, a tenth of a second of start-up and some 4 MB in each of the bot's processes; and
`subscribers export` with options as Typer would read them (`bot/entry/cli/export.py`), whose
start-up counts in its 2 s. Their failures end as Typer's would: a refusal's message and exit code,
Typer's traceback of an error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

# A plain `run`'s arguments → its --console/--no-console.
PLAIN_RUN: dict[tuple[str, ...], bool | None] = {
    ("run",): None,
    ("run", "--console"): True,
    ("run", "--no-console"): False,
}


def main() -> None:
    # httpx imports its own command-line client when click and rich are installed (they are, for
    # Typer and uvicorn), and with it rich's tables, progress bars and syntax colouring and pygments:
    # some 4 MB and 60 ms in every process of the bot, which never runs that client. An empty entry
    # makes httpx leave it out (its `httpx.main` then says the client is unavailable).
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    arguments = tuple(sys.argv[1:])
    if arguments in PLAIN_RUN:
        _run(PLAIN_RUN[arguments])
        return
    if arguments[:2] == ("subscribers", "export"):
        from bot.entry.cli.export import export, plain_export

        options = plain_export(arguments)
        if options is not None:
            _without_typer(lambda: export(options))
            return
    from bot.entry.cli.typer_app import app

    app()


def _run(console: bool | None) -> None:
    from bot.entry.cli.launch import run

    _without_typer(lambda: run(console))


def _without_typer(command: Callable[[], None]) -> None:
    try:
        command()
    except (Exception, KeyboardInterrupt) as exc:  # a refusal (SystemExit) ends the process as it is
        _end_as_typer_would(exc)


def _end_as_typer_would(exc: BaseException) -> None:
    """What Typer does with an exception out of a command: its traceback of an error, exit code 130
    after Ctrl-C, "Aborted!" at the end of input. Typer is loaded for it now."""
    import typer

    def command() -> None:
        raise exc

    failed = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)
    failed.command()(command)
    failed([])


def __getattr__(name: str) -> Any:
    """`bot.entry.cli.app`: the Typer app (for `typer.testing.CliRunner`), loaded when asked for."""
    if name == "app":
        from bot.entry.cli.typer_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
