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
from bot.delivery.ahead import Upcoming, schedule_ahead
from bot.delivery.cap_warnings import overruns_ahead
from bot.delivery.daily_caps import Overrun
from bot.delivery.messages import render
from bot.delivery.operations import Preview, list_deliveries, preview, retry, samples, send_now, why_not_sent
from bot.entry.cli.common import fail, open_app, operate
from bot.entry.composition import App
from bot.entry.runtime import attach_senders
from bot.models import Delivery, DeliveryState, SessionStatus
from bot.models import Session as SessionRow
from bot.services.context import Ctx
from bot.services.sessions import get_session
from handlers.console.sender import ConsoleSender
from handlers.web.mail_sender import CHANNEL as WEB_MAIL

app = typer.Typer(
    help="The outbox (what was and is being sent) and the schedule ahead (`plan`).", no_args_is_help=True
)
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
    """List the outbox: messages sent, failed, skipped or waiting, with state, attempts and last
    error. Messages not yet due are not in it until the planner expands them: see `deliveries plan`."""
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


@app.command("plan")
def plan_cmd(
    session: int | None = typer.Option(None, "--session", min=1, max=MAX_ID, help="Only this session."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """The schedule ahead: every message still to go out, when (UTC and the series' local time),
    through which channels and to how many, as the planner will send it."""
    with open_app() as bot:
        with_senders(bot)
        ahead, drafts = operate(bot, lambda ctx: _ahead(ctx, bot, session))
        over = operate(bot, lambda ctx: overruns_ahead(ctx.s, bot.delivery.senders, ctx.now))
    if session is not None:
        over = [o for o in over if session in o.sessions]
    if as_json:
        typer.echo(json.dumps([u.as_json() for u in ahead], ensure_ascii=False, indent=2))
        return
    table = Table("session", "kind", "offset", "due (UTC)", "due (local)", "channels", "recipients")
    for u in ahead:
        shown = u.as_json()
        table.add_row(
            str(u.session_id),
            u.kind,
            u.offset or "–",
            u.due_at.strftime("%Y-%m-%d %H:%M"),
            u.due_at.astimezone(ZoneInfo(u.timezone)).strftime("%Y-%m-%d %H:%M %Z"),
            ", ".join(f"{channel} {n}" for channel, n in sorted(u.channels.items())) or "–",
            str(shown["recipients"]),
        )
    out.print(table)
    out.print(_count(len(ahead), "message", "messages") + " still to go out.")
    if drafts:
        listed = ", ".join(str(x) for x in drafts)
        out.print(f"Drafts, which send nothing until they have a title (sessions edit ID --title): {listed}.")
    for line in over_the_cap(over):
        out.print(line)


def over_the_cap(over: list[Overrun]) -> list[str]:
    """What does not fit a transport's daily recipient cap (the organisers were told), one line each."""
    return [
        f"Over the daily cap: {o.channel} to {o.recipients:,} recipients within 24 hours from "
        f"{o.start:%Y-%m-%d %H:%M} UTC (cap {o.cap.recipients:,}; sessions "
        f"{', '.join(str(x) for x in o.sessions)}): what does not fit waits for room, so a "
        "reminder may come late. Options: README, «Mail at scale»."
        for o in over
    ]


def _ahead(ctx: Ctx, bot: App, session_id: int | None) -> tuple[list[Upcoming], list[int]]:
    """The schedule ahead, and the drafts ahead whose messages it leaves out."""
    query = select(SessionRow.id).where(
        SessionRow.status == SessionStatus.DRAFT.value, SessionRow.start_at > ctx.now
    )
    if session_id is not None:
        get_session(ctx, session_id)  # an unknown id is refused, not an empty plan
        query = query.where(SessionRow.id == session_id)
    drafts = list(ctx.s.scalars(query.order_by(SessionRow.start_at)))
    return schedule_ahead(ctx.s, bot.delivery.planner, ctx.now, session_id), drafts


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


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


def with_senders(bot: App) -> None:
    """The channels' senders, or the console's when no channel sends announcements (posts are
    printed; the web's confirmation mails are no announcements)."""
    attach_senders(bot)
    if all(sender.channel == WEB_MAIL for sender in bot.delivery.senders):
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
        with_senders(bot)
        if dry_run:
            _dry_run(bot, operate(bot, lambda ctx: preview(ctx, bot.delivery.planner, session_id, kind)))
            return
        reason = operate(bot, lambda ctx: why_not_sent(get_session(ctx, session_id), kind, ctx.now))
        if reason is not None:
            fail(f"Nothing was sent: {reason}.")
        ids = operate(bot, lambda ctx: send_now(ctx, bot.delivery.planner, session_id, kind))
        left = _drain_with_progress(bot, ids, wait)
        if left:
            raise typer.Exit(1)


# How each channel formats a message's text (the rest: plain text).
FORMATS = {"slack": "mrkdwn"}


def _dry_run(bot: App, shown: Preview) -> None:
    """Who would get what through which channel, one rendered message per channel and language, and
    plainly why nothing (or not everyone) would be reached."""
    table = Table("channel", "target", "language", "person")
    for channel, target, language, person_id in shown.sends:
        table.add_row(channel, target, language, str(person_id or "–"))
    out.print(table)
    for (channel, language), message in samples(shown, bot.settings.public_base_url).items():
        rendered = render(bot.renderer, message, fmt=FORMATS.get(channel, "text"))
        out.print(f"\n── {channel}, {language} ──", markup=False)
        out.print(f"{rendered.subject}\n\n{rendered.body}", markup=False)
    if shown.unreached:
        what = _count(len(shown.unreached), "subscriber", "subscribers")
        out.print(
            f"\n{what} of {shown.session.series.name} no configured channel reaches: they get nothing"
            " (set up mail: SMTP_HOST, or Microsoft 365).",
            markup=False,
        )
    if shown.blocked:
        out.print(f"\nNo message would be sent: {shown.blocked}. Nothing was sent.", markup=False)
        return
    would = _count(len(shown.sends), "message", "messages")
    out.print(f"\n{would} would be sent. Nothing was sent.", markup=False)


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
