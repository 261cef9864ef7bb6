"""`baerekraft-bot organisers add|remove`: who may plan sessions in a series."""

from __future__ import annotations

import typer

from bot.entry.cli.common import open_app, operate
from bot.services.organisers import grant, revoke
from bot.services.series import resolve_series

app = typer.Typer(help="Organisers of a series.", no_args_is_help=True)

IDENTITY_HELP = "An e-mail, or platform:user-id such as slack:U123."


@app.command("add")
def add_cmd(
    identity: str = typer.Argument(..., help=IDENTITY_HELP),
    series: str = typer.Option("baerekraftsfredag", help="The series' slug."),
) -> None:
    """Make someone an organiser."""
    with open_app() as bot:
        changed = operate(bot, lambda ctx: grant(ctx, resolve_series(ctx, series), identity))
    typer.echo(f"{identity} is {'now' if changed else 'already'} an organiser of {series}.")


@app.command("remove")
def remove_cmd(
    identity: str = typer.Argument(..., help=IDENTITY_HELP),
    series: str = typer.Option("baerekraftsfredag", help="The series' slug."),
) -> None:
    """Take the organiser role away."""
    with open_app() as bot:
        changed = operate(bot, lambda ctx: revoke(ctx, resolve_series(ctx, series), identity))
    typer.echo(f"{identity} {'is no longer' if changed else 'was not'} an organiser of {series}.")
