"""`baerekraft-bot teams`: the service account's login (device code) and the state of Microsoft 365.

The channel (and msal) is imported by each command, not by the CLI: other commands start without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bot.entry.cli.common import fail, open_app
from bot.entry.composition import App

if TYPE_CHECKING:
    from handlers.microsoft365.service import Microsoft365

app = typer.Typer(help="Microsoft Teams and Exchange: the Teams login and what works.", no_args_is_help=True)


def _graph(bot: App) -> Microsoft365:
    from handlers.microsoft365.channel import Microsoft365Channel

    channel = bot.channel(Microsoft365Channel)
    if channel is None:
        fail(
            "Microsoft 365 is not configured: set MS_TENANT_ID, MS_CLIENT_ID, MS_CLIENT_SECRET, MS_ORGANISER"
        )
    return channel.graph


@app.command("login")
def login() -> None:
    """Sign the service account in once (device code); later tokens come by themselves.

    Sign in as the account the bot posts as in Teams (a member of the network's team). The login is
    kept in the database, encrypted with SECRET_KEY.
    """
    from handlers.microsoft365.errors import GraphError

    with open_app() as bot:
        if bot.settings.secret_key_is_temporary:
            fail("SECRET_KEY is not set: the login is encrypted with it and would be lost on restart")
        graph = _graph(bot)
        try:
            flow = graph.user_auth.start_device_login()
            typer.echo(
                str(flow.get("message") or f"Open {flow['verification_uri']} and enter {flow['user_code']}")
            )
            username = graph.user_auth.finish_device_login(flow)
        except GraphError as exc:
            fail(f"Login failed: {exc}")
        finally:
            graph.close()
    typer.echo(f"Logged in as {username}. The bot posts to Teams and reads commands as this account.")


@app.command("status")
def status(
    check: bool = typer.Option(True, "--check/--no-check", help="Also fetch tokens to prove they work."),
) -> None:
    """The Teams login, problems, meetings, mail sent today and notification subscriptions.

    Exits with 1 when something needs an operator (the same as "degraded" on /healthz).
    """
    from handlers.microsoft365.status import channel_state, status_lines

    with open_app() as bot:
        graph = _graph(bot)
        try:
            for line in status_lines(graph, check=check):
                typer.echo(line)
            state = channel_state(graph)
        finally:
            graph.close()
    typer.echo(f"state: {state}")
    if state != "on":
        raise typer.Exit(1)


@app.command("logout")
def logout() -> None:
    """Forget the stored Teams login (posting to Teams stops until the next `teams login`)."""
    with open_app() as bot:
        graph = _graph(bot)
        forgotten = graph.store.forget()
        graph.close()
    typer.echo("Teams login forgotten." if forgotten else "No Teams login was stored.")
