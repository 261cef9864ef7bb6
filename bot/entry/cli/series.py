"""`baerekraft-bot series ...`: the series the bot runs."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from bot.delivery.cap_warnings import overruns_ahead
from bot.delivery.channels import Sender
from bot.delivery.operations import set_offsets
from bot.delivery.reach import unreached
from bot.entry.cli.common import fail, open_app, operate
from bot.services import bounces
from bot.services.context import Ctx
from bot.services.series import all_series, create_series, edit_series, resolve_series, set_language
from bot.services.subscriptions import active_count
from bot.views import SeriesView

app = typer.Typer(help="Series: list, add, show, edit, set.", no_args_is_help=True)


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="JSON instead of a table.")) -> None:
    """List the series with their subscriber counts."""
    with open_app() as bot:

        def rows(ctx: Ctx) -> list[dict[str, object]]:
            return [
                {**SeriesView.of(x).__dict__, "subscribers": active_count(ctx, x)} for x in all_series(ctx)
            ]

        data = operate(bot, rows)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    table = Table("slug", "name", "language", "time zone", "subscribers", "recurrence")
    for row in data:
        table.add_row(
            *(str(row[k] or "") for k in ("slug", "name", "language", "timezone", "subscribers")),
            str(row["recurrence"] or "–"),
        )
    Console().print(table)


@app.command("add")
def add_cmd(
    slug: str = typer.Option(..., help="Short name used in commands and links, e.g. verdensmaal."),
    name: str = typer.Option(..., help="Display name."),
    language: str = typer.Option(
        "nb", help="nb (Norwegian Bokmål), en (English), da (Danish) or nn (Norwegian Nynorsk)."
    ),
    timezone: str = typer.Option("Europe/Oslo", help="IANA time zone."),
    country: str | None = typer.Option(
        None,
        help="Country whose public holidays a rule skips, e.g. NO or DK (default: from language and zone).",
    ),
) -> None:
    """Create a series."""
    with open_app() as bot:
        created = operate(
            bot, lambda ctx: SeriesView.of(create_series(ctx, slug, name, language, timezone, country))
        )
    typer.echo(f"Series {created.slug} created (id {created.id}).")


@app.command("show")
def show_cmd(slug: str = typer.Argument(..., help="The series' slug.")) -> None:
    """Show one series' settings."""
    with open_app() as bot:

        def show(ctx: Ctx) -> dict[str, object]:
            series = resolve_series(ctx, slug)
            return {
                **SeriesView.of(series).__dict__,
                "country": series.country,
                "default_start_time": series.default_start_time.strftime("%H:%M"),
                "default_duration_minutes": series.default_duration_minutes,
                "invitation": series.invitation_offset + " before",
                "reminders": series.reminder_offsets + " before",
                "followup": series.followup_delay + " after the end (once slides are added)",
                "subscribers": active_count(ctx, series),
                # Subscribers no configured channel reaches (they get nothing): bot/delivery/reach.py.
                "unreached": len(unreached(ctx.s, series, bot.reach_senders())),
                # Sessions whose mail will not fit a transport's daily recipient cap (cap_warnings.py).
                "over_daily_cap": _over_the_cap(ctx, bot.reach_senders(), series.id),
                # Subscribers whose address bounced too often: no mail until they subscribe again.
                "mail_suspended": bounces.suspended_count(ctx, series.id),
            }

        data = operate(bot, show)
    for key, value in data.items():
        typer.echo(f"{key}: {value if value is not None else '–'}")


def _over_the_cap(ctx: Ctx, senders: list[Sender], series_id: int) -> str | None:
    mine = [
        f"session {load.session_id}: {o.recipients:,} {o.channel} recipients in 24 h "
        f"(cap {o.cap.recipients:,})"
        for o in overruns_ahead(ctx.s, senders, ctx.now)
        for load in o.loads
        if load.series_id == series_id
    ]
    return "; ".join(dict.fromkeys(mine)) or None


@app.command("edit")
def edit_cmd(
    slug: str = typer.Argument(..., help="The series' slug."),
    name: str | None = typer.Option(None, help="New display name."),
    language: str | None = typer.Option(
        None, help="The series' language for people who chose none: nb, en, da or nn."
    ),
    timezone: str | None = typer.Option(
        None, help="IANA time zone, e.g. Europe/Copenhagen (sessions keep their moment in UTC)."
    ),
    country: str | None = typer.Option(None, help="Country whose public holidays a rule skips: NO, DK..."),
) -> None:
    """Change a series' name, language, time zone or country."""
    if name is None and language is None and timezone is None and country is None:
        fail("Nothing to change: give --name, --language, --timezone or --country.", 2)
    with open_app() as bot:

        def edit(ctx: Ctx) -> dict[str, object]:
            series = resolve_series(ctx, slug)
            changed = edit_series(
                ctx, series, name=name, language=language, timezone=timezone, country=country
            )
            return {key: getattr(series, key) for key in changed}

        changed = operate(bot, edit)
    if not changed:
        typer.echo(f"Series {slug}: nothing changed.")
    for key, value in changed.items():
        typer.echo(f"{key}: {value}")


@app.command("set")
def set_cmd(
    slug: str = typer.Argument(..., help="The series' slug."),
    invitation: str | None = typer.Option(
        None, help="How long before a session the invitation goes, e.g. 7d."
    ),
    reminders: str | None = typer.Option(None, help="Reminders before a session, e.g. 1d,1h (s/m/h/d)."),
    followup: str | None = typer.Option(
        None, help="Follow-up with the slides this long after the end, e.g. 2h."
    ),
    language: str | None = typer.Option(
        None, help="The series' language for people who chose none: nb, en, da or nn."
    ),
) -> None:
    """Set when a series' invitation, reminders and follow-up go out (days are local calendar days),
    and the language it speaks."""

    def change(ctx: Ctx) -> dict[str, str]:
        series = resolve_series(ctx, slug)
        changed: dict[str, str] = {}
        if language is not None and set_language(ctx, series, language):
            changed["language"] = language
        return {**changed, **set_offsets(ctx, series, invitation, reminders, followup)}

    with open_app() as bot:
        changed = operate(bot, change)
    if not changed:
        typer.echo("Nothing to change: give --invitation, --reminders, --followup or --language.")
        return
    for key, value in changed.items():
        typer.echo(f"{key}: {value}")
