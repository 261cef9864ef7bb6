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

from bot.bounds import MAX_ID
from bot.delivery.operations import list_deliveries, preview, retry, send_now
from bot.delivery.reach import unreached
from bot.entry.cli.common import open_app, operate
from bot.entry.composition import App
from bot.entry.runtime import attach_senders
from bot.models import Delivery, DeliveryState
from bot.models import Session as SessionRow
from handlers.console.sender import ConsoleSender

app = typer.Typer(help="The outbox: what was, is being and will be sent.", no_args_is_help=True)
out = Console(highlight=False)


@app.command("list")
def list_cmd(
    session: int | None = typer.Option(
        None, "--session", min=1, max=MAX_ID, help="Only this session's deliveries."
    ),
    state: str | None = typer.Option(
        None, "--state", help="pending, claimed, sending, sent, failed or skipped."
    ),
    limit: int = typer.Option(200, min=1, max=100_000, help="At most this many rows, newest first."),
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
    ids: Annotated[list[int] | None, typer.Argument(min=1, max=MAX_ID, help="Delivery ids to retry.")] = None,
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
    session_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The session."),
    kind: str = typer.Argument(..., help="invitation, reminder or followup."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show who would get what, through which channel."),
    wait: float = typer.Option(
        60.0,
        "--wait",
        min=0.0,
        help="Stop waiting once nothing has gone out for this many seconds (the bot sends the rest).",
    ),
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
            _say_unreached(bot, session_id)
            return
        ids = operate(bot, lambda ctx: send_now(ctx, bot.delivery.planner, session_id, kind))
        left = _drain_with_progress(bot, ids, wait)
        if left:
            raise typer.Exit(1)


def _say_unreached(bot: App, session_id: int) -> None:
    """How many of the session's series' subscribers no configured channel reaches (if any)."""
    with bot.db.read() as s:
        session = s.get(SessionRow, session_id)
        if session is None:
            return
        missed = len(unreached(s, session.series, bot.reach_senders()))
        name = session.series.name
    if missed:
        out.print(
            f"{missed} subscriber{'' if missed == 1 else 's'} of {name} no configured channel reaches: "
            "they get nothing (set up mail: SMTP_HOST, or Microsoft 365).",
            markup=False,
        )


def _drain_with_progress(bot: App, ids: list[int], patience: float) -> int:
    """Send in this process until every row has ended, or nothing has ended for `patience` seconds
    (a channel that cannot deliver now: its rows stay in the outbox for the running bot). Prints
    the outcome, and why rows are still waiting; returns how many are."""
    done_states = {DeliveryState.SENT.value, DeliveryState.FAILED.value, DeliveryState.SKIPPED.value}
    finished, last_progress = 0, bot.clock.now()
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task("Sending", total=len(ids))
        while True:
            for worker in bot.delivery.workers.values():
                worker.run_once()
            with bot.db.read() as s:
                rows = list(
                    s.execute(select(Delivery.state, Delivery.last_error).where(Delivery.id.in_(ids)))
                )
            now_finished = sum(1 for state, _ in rows if state in done_states)
            if now_finished > finished:
                finished, last_progress = now_finished, bot.clock.now()
            progress.update(task, completed=finished)
            if finished == len(ids) or (bot.clock.now() - last_progress).total_seconds() >= patience:
                break
            bot.clock.sleep(0.5)
    states = [state for state, _ in rows]
    summary = {st: states.count(st) for st in sorted(set(states))}
    out.print(f"Done: {summary}")
    waiting = [error for state, error in rows if state not in done_states]
    if waiting:
        reasons = ", ".join(sorted({error or "not yet due" for error in waiting}))
        out.print(
            f"{len(waiting)} still pending ({reasons}): the running bot sends them when the channel "
            "answers again; see `deliveries list --state pending`."
        )
    return len(waiting)
