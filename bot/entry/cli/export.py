"""`baerekraft-bot subscribers export` carried out, without Typer: `bot/entry/cli/subscribers.py`
declares the command for Typer, and a command line that only gives its options (`plain_export`) is
started from here directly (`bot.entry.cli.main`), as a plain `run` is: Typer loads pydantic and rich,
a tenth of a second of the export's start-up (which must stay under 2 s with 100,000 rows).
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, NamedTuple, TextIO

from bot.entry.cli.common import open_store, operate
from bot.subscriber_csv import export_subscribers

if TYPE_CHECKING:
    from bot.models import Series
    from bot.services.context import Ctx


class ExportOptions(NamedTuple):
    series: str | None = None
    include_unsubscribed: bool = False
    excel: bool = False


def plain_export(arguments: tuple[str, ...]) -> ExportOptions | None:
    """The options of `subscribers export ...` when Typer would read them the same way (each option
    at most once, `--series` with a value that is no option); else None: Typer reads the line and
    gives its help or its error."""
    if arguments[:2] != ("subscribers", "export"):
        return None
    options = ExportOptions()
    rest = list(arguments[2:])
    seen: set[str] = set()
    while rest:
        argument = rest.pop(0)
        name, given, value = argument.partition("=")
        if name in seen:
            return None
        seen.add(name)
        if argument == "--include-unsubscribed":
            options = options._replace(include_unsubscribed=True)
        elif argument == "--excel":
            options = options._replace(excel=True)
        elif argument == "--series" and rest and rest[0] and not rest[0].startswith("-"):
            options = options._replace(series=rest.pop(0))
        elif name == "--series" and given and value and not value.startswith("-"):
            options = options._replace(series=value)
        else:
            return None
    return options


def export(options: ExportOptions) -> None:
    """Write the subscribers as CSV to standard output; the count of rows to standard error."""
    sys.stdout.flush()
    excel = options.excel
    wrapper = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8-sig", newline="") if excel else None
    out: TextIO = wrapper or sys.stdout
    with open_store() as bot:
        count = operate(
            bot,
            lambda ctx: export_subscribers(
                ctx.s,
                out,
                series=_series_or_all(ctx, options.series),
                include_unsubscribed=options.include_unsubscribed,
                delimiter=";" if excel else ",",
            ),
        )
    out.flush()
    if wrapper is not None:
        wrapper.detach()  # leave standard output open
    print(f"{count} rows exported.", file=sys.stderr)  # as rich's console writes it: no markup in it


def _series_or_all(ctx: Ctx, slug: str | None) -> Series | None:
    """The series `slug` names, or None for every series. What only some commands use is imported
    where it is used: `export` must write 100,000 rows in 2 s, start-up included (issue 20)."""
    if slug is None:
        return None
    from bot.services.series import resolve_series

    return resolve_series(ctx, slug)
