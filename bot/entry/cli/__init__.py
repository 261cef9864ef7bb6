"""The `baerekraft-bot` command line (Typer): run the bot, talk to it, and operate it."""

from __future__ import annotations

import typer

from bot.entry.cli import dashboard, db, deliveries, organisers, series, sessions, subscribers, teams
from bot.entry.cli.runtime import run, shell

app = typer.Typer(
    help="Bærekraftsfredag bot: subscriptions, sessions, invitations and slides for webinar series.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command("run")(run)
app.command("shell")(shell)
app.command("send")(deliveries.send)
app.add_typer(db.app, name="db")
app.add_typer(series.app, name="series")
app.add_typer(sessions.app, name="sessions")
app.add_typer(sessions.links_app, name="links")
app.add_typer(organisers.app, name="organisers")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(teams.app, name="teams")
app.add_typer(dashboard.app, name="dashboard")


def main() -> None:
    app()
