"""`baerekraft-bot subscribers import|export|list`: the list as CSV, and who mail does not reach.

`import` validates the whole file first and imports in one transaction; it never re-subscribes anyone
who unsubscribed (see bot.subscriber_csv). Its report goes to standard output, the progress bar to
standard error. `export` writes nothing but the CSV to standard output.

Exit codes: 0 done; 1 rows were rejected and nothing was imported, or the series was refused;
2 the file (or the configuration) cannot be used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from bot.entry.cli.common import fail, open_app, open_store, operate, stderr
from bot.entry.cli.export import ExportOptions, export
from bot.entry.composition import App
from bot.subscriber_csv import (
    CsvFormatError,
    CsvRow,
    ImportReport,
    ProgressHook,
    has_erased_people,
    import_rows,
    parse_csv,
    read_text,
)

app = typer.Typer(help="Subscribers: import and export as CSV, list with their state.", no_args_is_help=True)


@app.command("import")
def import_cmd(
    file: str = typer.Argument(
        ...,
        help="CSV with a header naming email, name and language (or E-post, Navn, Språk...); fields"
        " separated by , or ;; UTF-8 or Windows-1252.",
    ),
    series: str | None = typer.Option(
        None, "--series", help="The series' slug; may be left out when there is only one series."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid rows even when some rows are invalid."
    ),
) -> None:
    """Subscribe the people in a CSV file. Never re-subscribes anyone who unsubscribed."""
    from bot.services.series import resolve_series

    rows, encoding = _read(Path(file))
    with open_app() as bot:
        _require_secret_key_if_erased(bot)
        with _progress_bar() as progress:
            report = operate(
                bot,
                lambda ctx: import_rows(
                    ctx, resolve_series(ctx, series), rows, skip_invalid=skip_invalid, progress=progress
                ),
            )
    report.encoding = encoding
    _print_report(report)
    if report.failed:
        raise typer.Exit(1)


@app.command("list")
def list_cmd(
    series: str | None = typer.Option(
        None, "--series", help="The series' slug; may be left out when there is only one series."
    ),
    suspended: bool = typer.Option(
        False, "--suspended", help="Only those whose mail is suspended after repeated hard bounces."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """The active subscribers, with their state: ok, or mail suspended (the address bounced)."""
    from rich.table import Table

    from bot.services import bounces
    from bot.services.series import resolve_series

    with open_store() as bot:
        rows = operate(
            bot,
            lambda ctx: bounces.subscriber_states(
                ctx, resolve_series(ctx, series).id, suspended_only=suspended
            ),
        )
    if as_json:
        data = [{**row.__dict__, "subscribed_at": row.subscribed_at.isoformat()} for row in rows]
        for item, row in zip(data, rows, strict=True):
            item["suspended_at"] = row.suspended_at.isoformat() if row.suspended_at else None
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    table = Table("name", "e-mail", "subscribed (UTC)", "state", "hard bounces (30 days)")
    for row in rows:
        state = row.state
        if row.suspended_at is not None:
            state += f" since {row.suspended_at:%Y-%m-%d %H:%M}"
        table.add_row(
            row.name or "",
            row.email or "",
            f"{row.subscribed_at:%Y-%m-%d %H:%M}",
            state,
            str(row.hard_bounces),
        )
    Console().print(table)
    stderr().print(f"{len(rows)} subscribers.", markup=False)


@app.command("export")
def export_cmd(
    series: str | None = typer.Option(None, "--series", help="Only this series (default: every series)."),
    include_unsubscribed: bool = typer.Option(
        False,
        "--include-unsubscribed",
        help="Also ended subscriptions, with an extra unsubscribed_at column (empty for active ones).",
    ),
    excel: bool = typer.Option(
        False,
        "--excel",
        help="As Excel in Norway and Denmark opens it: fields separated by ; in UTF-8 with a BOM.",
    ),
) -> None:
    """Write the subscribers as CSV to standard output: one row per subscription."""
    export(ExportOptions(series, include_unsubscribed, excel))


def _read(path: Path) -> tuple[list[CsvRow], str]:
    """The file's data rows and the encoding it was read as; a file that cannot be used ends the
    command with exit code 2."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror or exc}", code=2)
    try:
        text, encoding = read_text(data)
        return parse_csv(text), encoding
    except CsvFormatError as exc:
        fail(f"{path}: {exc}", code=2)


def _require_secret_key_if_erased(bot: App) -> None:
    """Erased people are recognised by a hash keyed with SECRET_KEY: without it, refuse to import."""
    if bot.settings.secret_key_is_temporary and operate(bot, lambda ctx: has_erased_people(ctx.s)):
        fail(
            "SECRET_KEY is not set: people who asked to be erased could not be recognised and might be"
            " subscribed again. Set SECRET_KEY to the bot's key and run the import again.",
            code=2,
        )


@contextmanager
def _progress_bar() -> Iterator[ProgressHook]:
    """A progress bar on standard error, shown on a terminal only, and the hook that drives it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    err = stderr()
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("import", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _print_report(report: ImportReport) -> None:
    """Every row not imported, in file order, then one summary line."""
    issues = [(i.line, "rejected", i.reason) for i in report.rejected]
    issues += [(i.line, "skipped", i.reason) for i in report.skipped]
    issues += [(i.line, "merged", i.reason) for i in report.merged]
    for line, what, reason in sorted(issues):
        typer.echo(f"line {line}: {what}: {reason}")
    if not report.applied:
        typer.echo(
            f"Nothing imported: {len(report.rejected)} invalid row(s)."
            " Fix them, or use --skip-invalid to import the valid rows."
        )
        return
    read_as = f" (read as {report.encoding})" if report.encoding else ""
    typer.echo(
        f"Imported into {report.series}{read_as}: {report.created} created, {report.unchanged} unchanged"
        f" (already subscribed), {len(report.merged)} merged (same address as an earlier row),"
        f" {len(report.skipped)} skipped, {len(report.rejected)} rejected."
    )
