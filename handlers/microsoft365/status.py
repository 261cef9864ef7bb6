"""The state of Microsoft 365 for operators: one line for /healthz, a few lines for `teams status`.

Both say whether an operator must act: a lost Teams login needs `teams login`; a sign-in failing for
now (the identity provider's AADSTS90033, a 5xx) heals by itself and says so.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from bot.delivery import holds
from bot.delivery.holds import Hold
from bot.models import SessionAttendance
from handlers.microsoft365 import SENDERS
from handlers.microsoft365.attendance import SOURCE
from handlers.microsoft365.attendance import problems as attendance_problems
from handlers.microsoft365.calendar_sync import no_teams
from handlers.microsoft365.client import Auth
from handlers.microsoft365.errors import GraphError, LoginNeeded
from handlers.microsoft365.meeting_options import AREA as OPTIONS_AREA
from handlers.microsoft365.meeting_options import problems as options_problems
from handlers.microsoft365.models import GraphEvent, GraphSubscription
from handlers.microsoft365.service import Microsoft365

LOGIN_NEEDED = "Teams login needed: run `baerekraft-bot teams login`"


def channel_state(graph: Microsoft365) -> str:
    """`on`, or `degraded: <why>` while the Teams login or any area has a problem (details: teams
    status); the reason says whether `teams login` is needed or the problem heals by itself."""
    login = graph.store.state()
    if login is None or (login.problem and not login.problem_transient):
        return f"degraded: {LOGIN_NEEDED}"
    if login.problem:
        return "degraded: Teams sign-in failing for now; retrying by itself"
    problems = graph.health.problems()
    if _options_problems(graph):  # kept in the database, so `teams status` sees the bot's failures too
        problems.setdefault(OPTIONS_AREA, "")
    if _paused(graph):  # held in the database by whichever process met the refusal
        problems.setdefault("sending paused", "")
    if problems:
        return f"degraded: {', '.join(sorted(problems))} (see `baerekraft-bot teams status`)"
    return "on"


def status_lines(graph: Microsoft365, *, check: bool = True) -> list[str]:
    """What `teams status` prints; with `check`, it also asks the identity provider for tokens."""
    s, clock = graph.settings, graph.core.clock
    lines = [
        f"tenant {s.tenant_id}, app {s.client_id}, organiser mailbox {s.organiser}",
        f"Teams channel: {s.channel_id} in team {s.team_id}"
        if s.team_id and s.channel_id
        else "Teams channel: not set",
    ]
    if check:
        lines.append(f"app-only token: {_check(lambda: graph.app_auth.token())}")
        lines.append(f"Teams meetings: {_teams_meetings(graph)}")
        options = graph.calendar.options
        if options is not None:
            lines.append(f"meeting options access: {_check(options.api.check_access)}")
    login = graph.store.state()
    if login is None:
        lines.append("Teams login: none; run `baerekraft-bot teams login`")
    else:
        refreshed = login.refreshed_at.isoformat(timespec="seconds") if login.refreshed_at else "never"
        lines.append(f"Teams login: {login.username or '?'} (last refreshed {refreshed})")
        if check:
            lines.append(f"Teams login token: {_check(lambda: _signed_in(graph))}")
        login = graph.store.state() or login
        if login.problem and login.problem_transient:
            lines.append(
                f"Teams sign-in failing since {login.problem_at}: {login.problem} (no new login needed)"
            )
        elif login.problem:
            lines.append(f"Teams login PROBLEM since {login.problem_at}: {login.problem}")
    for area, problem in sorted(graph.health.problems().items()):
        lines.append(f"{area} PROBLEM: {problem}")
    for hold in _paused(graph):
        where = "" if hold.whole else f" to {hold.target}"
        lines.append(
            f"{hold.channel} sending PAUSED{where} since {hold.began_at.isoformat(timespec='seconds')}: "
            f"{hold.reason} ({hold.problem}); next try {hold.probe_at.isoformat(timespec='seconds')}"
        )
    lines += _options_lines(graph)
    lines += _attendance_lines(graph)
    with graph.core.db.read() as session:
        events = session.scalar(
            select(func.count()).select_from(GraphEvent).where(GraphEvent.event_id.is_not(None))
        )
        subs = session.scalars(select(GraphSubscription)).all()
    lines.append(
        f"meeting events: {events or 0}; mail recipients in the last 24 h: {graph.mailbox.used_today()}"
    )
    now = clock.now()
    for sub in subs:
        minutes = int((sub.expires_at - now).total_seconds() // 60)
        lines.append(f"notifications: {sub.resource} (expires in {minutes} min)")
    if not subs:
        lines.append(f"notifications: {graph.subscriptions.off_reason or 'none yet'}")
    return lines


def _paused(graph: Microsoft365) -> list[Hold]:
    """Mail or Teams sending held back (401/403 from Graph), as every process sees it."""
    with graph.core.db.read() as session:
        return [hold for hold in holds.current(session) if hold.channel in SENDERS]


def _options_problems(graph: Microsoft365) -> list[tuple[int, str]]:
    with graph.core.db.read() as session:
        return options_problems(session, graph.core.clock.now())


def _options_lines(graph: Microsoft365) -> list[str]:
    with graph.core.db.read() as session:
        done = session.scalar(
            select(func.count()).select_from(GraphEvent).where(GraphEvent.options_digest.is_not(None))
        )
    lines = [f"meeting options (lobby bypass, presenters, recording): set on {done or 0} meetings"]
    lines += [
        f"meeting options PROBLEM for session {session_id}: {problem}"
        for session_id, problem in _options_problems(graph)
    ]
    return lines


def _attendance_lines(graph: Microsoft365) -> list[str]:
    with graph.core.db.read() as session:
        read = session.scalar(
            select(func.count()).select_from(SessionAttendance).where(SessionAttendance.source == SOURCE)
        )
        failing = attendance_problems(session)
    lines = [f"attendance from Teams' reports: counted for {read or 0} sessions"]
    lines += [f"attendance PROBLEM for session {session_id}: {problem}" for session_id, problem in failing]
    return lines


def _teams_meetings(graph: Microsoft365) -> str:
    """Whether the organiser mailbox can hold Teams meetings (its calendar allows teamsForBusiness)."""
    try:
        ready = graph.calendar.api.teams_meetings()
    except (LoginNeeded, GraphError) as exc:
        return f"FAILED: {exc}"
    return "ok" if ready else f"PROBLEM: {no_teams(graph.settings.organiser)}"


def _signed_in(graph: Microsoft365) -> None:
    """A call as the service account: Graph refuses a revoked login even while its token looks valid."""
    graph.client.call("GET", "/me", auth=Auth.USER, permission="User.Read")


def _check(get_token: Callable[[], object]) -> str:
    try:
        get_token()
    except (LoginNeeded, GraphError) as exc:
        return f"FAILED: {exc}"
    return "ok"
