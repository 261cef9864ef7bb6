"""`baerekraft-bot sessions ...` and `links ...`: planning sessions and sharing slides."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from bot.bounds import MAX_ID
from bot.commands import SessionFields
from bot.delivery.ahead import Upcoming, schedule_ahead
from bot.entry.cli.common import fail, open_app, operate
from bot.entry.cli.deliveries import with_senders
from bot.models import LinkKind, SessionStatus
from bot.services.context import Ctx
from bot.services.links import add_link
from bot.services.numbers import SessionNumbers, numbers_of
from bot.services.series import resolve_series
from bot.services.sessions import add_session, cancel_session, change_session, get_session, list_sessions
from bot.views import SessionView

app = typer.Typer(help="Sessions: add, list, show, edit, cancel.", no_args_is_help=True)
links_app = typer.Typer(help="Presentation links on a session.", no_args_is_help=True)


CLASH_HINT = "To have both sessions anyway, add --force."


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
    force: bool = typer.Option(False, "--force", help="Add it although it overlaps another session."),
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
            bot,
            lambda ctx: (
                add_session(ctx, resolve_series(ctx, series), fields, allow_past=past, force=force).id
            ),
            hints={
                "start_in_past": "To add a session that took place (for the archive), add --past.",
                "session_clash": CLASH_HINT,
            },
        )
    typer.echo(session_id)


@app.command("edit")
def edit_cmd(
    session_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The session's id."),
    title: str | None = typer.Option(None, help="New title."),
    start: str | None = typer.Option(
        None, help='New local start in the series\' time zone: "YYYY-MM-DD HH:MM".'
    ),
    duration: int | None = typer.Option(None, min=1, max=1440, help="New duration in minutes."),
    topic: str | None = typer.Option(None, help="Topic, e.g. SDG 5."),
    speakers: str | None = typer.Option(None, help="Speakers, comma-separated."),
    description: str | None = typer.Option(None, help="Description or agenda."),
    join_url: str | None = typer.Option(None, help="Teams join link."),
    force: bool = typer.Option(False, "--force", help="Move it although it overlaps another session."),
) -> None:
    """Change a session, as `endre økt` in chat does: subscribers who were invited get the change."""
    fields = SessionFields(
        title=title,
        start_local=_local_start(start) if start is not None else None,
        duration_minutes=duration,
        topic=topic,
        speakers=speakers,
        description=description,
        join_url=join_url,
    )
    if fields == SessionFields():
        fail(
            "Nothing to change: give --title, --start, --duration, --topic, --speakers, "
            "--description or --join-url.",
            2,
        )
    with open_app() as bot:

        def edit(ctx: Ctx) -> tuple[SessionView, list[str]]:
            session, changed = change_session(ctx, session_id, fields, force=force)
            return SessionView.of(session), changed

        view, changed = operate(
            bot,
            edit,
            hints={
                "start_in_past": "A session cannot be moved into the past; give a later --start.",
                "session_clash": CLASH_HINT,
                "session_cancelled": "A cancelled session stays so: add a new one with `sessions add`.",
            },
        )
    if not changed:
        typer.echo(f"Session {session_id}: nothing changed.")
        return
    typer.echo(f"Session {session_id} changed: {', '.join(changed)}.")
    for line in _details(view):
        typer.echo(line)


@app.command("show")
def show_cmd(
    session_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The session's id."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
) -> None:
    """Show one session: its times (local and UTC), details, links, the messages still to go out and
    its numbers (invited, reached per channel, unsubscribed since, attended)."""
    with open_app() as bot:
        with_senders(bot)

        def show(ctx: Ctx) -> tuple[SessionView, list[Upcoming], SessionNumbers]:
            view = SessionView.of(get_session(ctx, session_id))
            ahead = schedule_ahead(ctx.s, bot.delivery.planner, ctx.now, session_id)
            return view, ahead, numbers_of(ctx, session_id, bot.outside_reach)

        view, ahead, numbers = operate(bot, show)
    if as_json:
        data = {**_as_dict(view), "ahead": [u.as_json() for u in ahead], "numbers": _numbers_dict(numbers)}
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for line in _details(view):
        typer.echo(line)
    typer.echo(f"links: {len(view.links)}")
    for link in view.links:
        kind = " [recording]" if link.recording else ""
        typer.echo(
            f"  {link.id}:{kind} {link.title}{f' ({link.speaker})' if link.speaker else ''} {link.url}"
        )
    typer.echo(f"still to go out: {len(ahead)}")
    if view.status == SessionStatus.DRAFT.value:
        typer.echo(f"  (a draft: nothing goes out until it has a title: sessions edit {view.id} --title ...)")
    for u in ahead:
        local = u.due_at.astimezone(ZoneInfo(u.timezone)).strftime("%Y-%m-%d %H:%M")
        offset = f" ({u.offset})" if u.offset else ""
        typer.echo(
            f"  {u.kind}{offset} at {local} to {u.recipients} via {', '.join(sorted(u.channels)) or '–'}"
        )
    for line in _numbers_lines(numbers):
        typer.echo(line)


def _numbers_lines(n: SessionNumbers) -> list[str]:
    invited = (
        "– (no invitation yet)"
        if n.invited is None
        else f"{n.invited} (invitation {n.invited_at:%Y-%m-%d %H:%M} UTC)"
    )
    attended = (
        "unknown"
        if n.attended is None
        else f"{n.attended} ({n.attendance_source}{'' if n.attendance_final else ', provisional'})"
    )
    lines = [
        f"invited: {invited}",
        f"reached: {n.reached}",
        f"unsubscribed since the invitation: {n.unsubscribed_since}",
        f"attended: {attended}",
    ]
    for c in n.channels:
        parts = [f"{c.sent} reached"] + [
            f"{value} {label}"
            for value, label in (
                (c.posts, "posts"),
                (c.failed, "failed"),
                (c.skipped, "skipped"),
                (c.pending, "pending"),
            )
            if value
        ]
        lines.append(f"  {c.channel} {c.kind}: {', '.join(parts)}")
    return lines


def _numbers_dict(n: SessionNumbers) -> dict[str, object]:
    data = asdict(n)
    data["invited_at"] = n.invited_at.isoformat() if n.invited_at else None
    return data


def _details(v: SessionView) -> list[str]:
    zone = ZoneInfo(v.series.timezone)
    rows = {
        "id": v.id,
        "series": v.series.slug,
        "title": v.title,
        "status": v.status,
        "start (local)": f"{v.start.astimezone(zone):%Y-%m-%d %H:%M} {v.series.timezone}",
        "start (UTC)": f"{v.start:%Y-%m-%d %H:%M}",
        "duration": f"{v.duration_minutes} min",
        "topic": v.topic,
        "speakers": v.speakers,
        "description": v.description,
        "join link": v.join_url,
    }
    return [f"{key}: {value if value not in (None, '') else '–'}" for key, value in rows.items()]


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
    table = Table("id", "series", "start (local)", "start (UTC)", "min", "status", "title", "links")
    for v in views:
        local = v.start.astimezone(ZoneInfo(v.series.timezone)).strftime("%Y-%m-%d %H:%M %Z")
        table.add_row(
            str(v.id),
            v.series.slug,
            local,
            v.start.strftime("%Y-%m-%d %H:%M"),
            str(v.duration_minutes),
            v.status,
            v.title,
            str(len(v.links)),
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
    kind: str = typer.Option(
        "slides", help="slides, or recording (shown first, noting its automatic captions)."
    ),
) -> None:
    """Add a presentation link (slides or a recording) to a session; prints the link's id."""
    if kind not in set(LinkKind):
        fail(f"--kind: {kind!r} is neither {' nor '.join(LinkKind)}")
    with open_app() as bot:
        link_id = operate(bot, lambda ctx: add_link(ctx, session_id, url, title, speaker, kind).id)
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
        "links": [
            {"id": x.id, "title": x.title, "speaker": x.speaker, "url": x.url, "kind": x.kind}
            for x in v.links
        ],
    }
