"""`baerekraft-bot db ...`: the schema."""

from __future__ import annotations

import typer

from bot.db import make_engine
from bot.entry.cli.common import fail, stderr
from bot.entry.settings import load_settings
from bot.migrate import current_revision, downgrade, head_revision, upgrade
from bot.settings import SettingsError

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


def _url() -> str:
    try:
        return load_settings().database_url
    except SettingsError as exc:
        fail(str(exc), code=2)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Bring the schema up to date (run and shell do this by themselves)."""
    upgrade(_url(), revision)
    stderr().print(f"Database at revision {revision}.")


@app.command("downgrade")
def downgrade_cmd(revision: str = typer.Argument(..., help="Target revision, e.g. -1.")) -> None:
    """Step the schema back (take a backup first)."""
    downgrade(_url(), revision)
    stderr().print(f"Database downgraded to {revision}.")


@app.command("current")
def current_cmd() -> None:
    """Show the schema revision of the database and of the code."""
    engine = make_engine(_url())
    try:
        typer.echo(f"database: {current_revision(engine) or '(empty)'}  code: {head_revision()}")
    finally:
        engine.dispose()
