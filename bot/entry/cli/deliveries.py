"""`baerekraft-bot deliveries ...` and `send`: the outbox for operators."""

from __future__ import annotations

import json
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select

from bot.delivery.operations import list_deliveries, preview, retry, send_now
from bot.entry.cli.common import open_app, operate
from bot.entry.composition import App
from bot.entry.runtime import attach_senders
from bot.models import Delivery, DeliveryState
from handlers.console.sender import ConsoleSender

app = typer.Typer(help="The outbox: what was, is being and will be sent.", no_args_is_help=True)
out = Console(highlight=False)


@app.command("list")
def list_cmd(
    session: int | None = typer.Option(None, "--session", help="Only this session's deliveries."),
    state: str | None = typer.Option(
        None, "--state", help="pending, claimed, sending, sent, failed or skipped."
    ),
    limit: int = typer.Option(200, help="At most this many rows, newest first."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """List deliveries with their state, attempts and last error."""
    with open_app() as bot:
        rows = operate(bot, lambda ctx: list_deliveries(ctx, session, state, limit))
        zone = ZoneInfo(bot.settings.timezone)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        **r.__dict__,
                        "due_at": r.due_at.isoformat(),
                        "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    table = Table("id", "session", "kind", "channel", "target", "state", "tries", "due (local)", "last error")
    for r in rows:
        table.add_row(
            str(r.id),
            str(r.session_id or "–"),
            r.kind,
            r.channel,
            r.target,
            r.state,
            str(r.attempts),
            r.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            r.last_error or "",
        )
    out.print(table)


@app.command("retry")
def retry_cmd(
    ids: Annotated[list[int] | None, typer.Argument(help="Delivery ids to retry.")] = None,
    failed: bool = typer.Option(False, "--failed", help="Retry every failed delivery."),
) -> None:
    """Queue failed deliveries again, due now (a running bot sends them)."""
    if not ids and not failed:
        typer.echo("Name delivery ids, or --failed for all failed ones.", err=True)
        raise typer.Exit(2)
    with open_app() as bot:
        count = operate(bot, lambda ctx: retry(ctx, list(ids or []), failed))
    typer.echo(f"{count} deliveries queued again.")


def _with_senders(bot: App) -> None:
    """The channels' senders, or the console's when no channel sends (posts are printed)."""
    attach_senders(bot)
    if not bot.delivery.senders:
        bot.delivery.add_sender(ConsoleSender(bot.renderer))


def send(
    session_id: int = typer.Argument(..., help="The session."),
    kind: str = typer.Argument(..., help="invitation, reminder or followup."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show who would get what, through which channel."),
) -> None:
    """Send a session's invitation, reminder or follow-up now, to everyone concerned."""
    with open_app() as bot:
        _with_senders(bot)
        if dry_run:
            rows = operate(bot, lambda ctx: preview(ctx, bot.delivery.planner, session_id, kind))
            table = Table("channel", "target", "language", "person")
            for channel, target, language, person_id in rows:
                table.add_row(channel, target, language, str(person_id or "–"))
            out.print(table)
            out.print(f"{len(rows)} messages would be sent. Nothing was sent.")
            return
        ids = operate(bot, lambda ctx: send_now(ctx, bot.delivery.planner, session_id, kind))
        _drain_with_progress(bot, ids)


def _drain_with_progress(bot: App, ids: list[int]) -> None:
    done_states = {DeliveryState.SENT.value, DeliveryState.FAILED.value, DeliveryState.SKIPPED.value}
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task("Sending", total=len(ids))
        while True:
            for worker in bot.delivery.workers.values():
                worker.run_once()
            with bot.db.read() as s:
                states = list(s.scalars(select(Delivery.state).where(Delivery.id.in_(ids))))
            finished = sum(1 for st in states if st in done_states)
            progress.update(task, completed=finished)
            if finished == len(ids):
                break
            bot.clock.sleep(0.5)
    summary = {st: states.count(st) for st in sorted(set(states))}
    out.print(f"Done: {summary}")
