"""`baerekraft-bot sessions ...` and `links ...`: planning sessions and sharing slides."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from bot.bounds import MAX_ID
from bot.commands import SessionFields
from bot.entry.cli.common import fail, open_app, operate
from bot.services.context import Ctx
from bot.services.links import add_link
from bot.services.series import resolve_series
from bot.services.sessions import add_session, cancel_session, list_sessions
from bot.views import SessionView

app = typer.Typer(help="Sessions: add, list, cancel.", no_args_is_help=True)
links_app = typer.Typer(help="Presentation links on a session.", no_args_is_help=True)


def _local_start(text: str) -> datetime:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        fail(f"--start: {text!r} is not a date and time as YYYY-MM-DD HH:MM (local time of the series)")


@app.command("add")
def add_cmd(
    series: str = typer.Option("baerekraftsfredag", help="The series' slug."),
    title: str = typer.Option(..., help="Title of the session."),
    start: str = typer.Option(..., help='Local start in the series\' time zone: "YYYY-MM-DD HH:MM".'),
    duration: int | None = typer.Option(
        None, min=1, max=1440, help="Minutes (default: the series' default)."
    ),
    topic: str | None = typer.Option(None, help="Topic, e.g. SDG 5."),
    speakers: str | None = typer.Option(None, help="Speakers, comma-separated."),
    description: str | None = typer.Option(None, help="Description or agenda."),
    join_url: str | None = typer.Option(None, help="Teams join link."),
    past: bool = typer.Option(False, "--past", help="Allow a session in the past (filling the archive)."),
) -> None:
    """Add a session; prints its id."""
    fields = SessionFields(
        title=title,
        start_local=_local_start(start),
        duration_minutes=duration,
        topic=topic,
        speakers=speakers,
        description=description,
        join_url=join_url,
    )
    with open_app() as bot:
        session_id = operate(
            bot, lambda ctx: add_session(ctx, resolve_series(ctx, series), fields, allow_past=past).id
        )
    typer.echo(session_id)


@app.command("list")
def list_cmd(
    series: str | None = typer.Option(None, help="Only this series."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """List sessions, oldest first, with local and UTC times."""
    with open_app() as bot:

        def rows(ctx: Ctx) -> list[SessionView]:
            chosen = resolve_series(ctx, series) if series else None
            return [SessionView.of(x) for x in list_sessions(ctx, chosen)]

        views = operate(bot, rows)
    if as_json:
        typer.echo(json.dumps([_as_dict(v) for v in views], ensure_ascii=False, indent=2))
        return
    table = Table("id", "series", "start (local)", "min", "status", "title", "links")
    for v in views:
        local = v.start.astimezone(ZoneInfo(v.series.timezone)).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            str(v.id), v.series.slug, local, str(v.duration_minutes), v.status, v.title, str(len(v.links))
        )
    Console().print(table)


@app.command("cancel")
def cancel_cmd(session_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The session's id.")) -> None:
    """Cancel a session."""
    with open_app() as bot:
        changed = operate(bot, lambda ctx: cancel_session(ctx, session_id)[1])
    typer.echo(
        f"Session {session_id} cancelled." if changed else f"Session {session_id} was already cancelled."
    )


@links_app.command("add")
def links_add_cmd(
    session_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The session's id."),
    title: str = typer.Option(..., help="Title of the presentation."),
    url: str = typer.Option(..., help="Link to the slides (https://...)."),
    speaker: str | None = typer.Option(None, help="Who presented."),
) -> None:
    """Add a presentation link to a session; prints the link's id."""
    with open_app() as bot:
        link_id = operate(bot, lambda ctx: add_link(ctx, session_id, url, title, speaker).id)
    typer.echo(link_id)


def _as_dict(v: SessionView) -> dict[str, object]:
    zone = ZoneInfo(v.series.timezone)
    return {
        "id": v.id,
        "series": v.series.slug,
        "title": v.title,
        "topic": v.topic,
        "speakers": v.speakers,
        "description": v.description,
        "start_utc": v.start.isoformat(),
        "start_local": v.start.astimezone(zone).isoformat(),
        "duration_minutes": v.duration_minutes,
        "join_url": v.join_url,
        "status": v.status,
        "links": [{"id": x.id, "title": x.title, "speaker": x.speaker, "url": x.url} for x in v.links],
    }
