"""`baerekraft-bot dashboard link --as EMAIL`: a one-time sign-in link to the organisers' dashboard."""

from __future__ import annotations

import typer

from bot.entry.cli.common import fail, open_app, operate
from bot.services.context import Ctx
from handlers.web.admin.access import LINK_VALID_FOR, NoDashboard, issue_link
from handlers.web.channel import WebChannel

app = typer.Typer(help="The organisers' dashboard at /admin.", no_args_is_help=True)


@app.command("link")
def link_cmd(
    email: str = typer.Option(..., "--as", help="The organiser's e-mail address."),
    operator: bool = typer.Option(
        False, "--operator", help="Sign in as the local operator: every series, as `shell --organiser`."
    ),
) -> None:
    """Print a sign-in link for an organiser: valid 15 minutes, once."""
    with open_app() as bot:
        web = bot.channel(WebChannel)
        assert web is not None  # the web pages are always on
        base = web.site.base_url()

        def issue(ctx: Ctx) -> str:
            return issue_link(ctx, email, base, operator=operator)

        try:
            url = operate(bot, issue)
        except NoDashboard:
            fail(
                f"{email} organises no series: make them an organiser first "
                "(`baerekraft-bot organisers add --series SLUG EMAIL`), or add --operator."
            )
    minutes = int(LINK_VALID_FOR.total_seconds() // 60)
    typer.echo(url)
    typer.echo(f"Open it within {minutes} minutes; it signs in once.", err=True)
