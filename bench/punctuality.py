"""Scheduler punctuality: a real `baerekraft-bot run --no-console` (SystemClock) with sessions whose
invitation falls due at known moments a few seconds ahead; the lag is from each moment the bot is to
start an invitation (its due moment, less the lead a paced fan-out starts early by) to its first
request at the fake Slack. Also: a month of a series in simulated time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import BotProcess, bot_environment, free_port, fresh_sqlite, slack_environ
from bench.fakes import PacedSlack
from bench.population import add_subscribers, plan_sessions
from bot.delivery.durations import parse_offset
from handlers.slack.sender import WORKSPACE_BURST
from handlers.slack.settings import SlackSettings

ANNOUNCEMENTS = "C0PUNCTUAL"
TARGETS = 6  # the announcement channel and five direct messages


@dataclass
class Punctuality:
    lags_ms: list[float]
    missing: int
    startup_seconds: float
    rss_idle_mb: float
    notes: list[str] = field(default_factory=list)


def run_punctuality(
    folder: Path, sessions: int = 16, spacing: float = 1.5, first_after: float = 8.0
) -> Punctuality:
    """`sessions` invitations due `spacing` s apart, the first `first_after` s from now (the bot starts
    in between). Spaced wider than the channel's 1 post a second, so the pace adds nothing."""
    db_url = fresh_sqlite(folder, "punctuality.db")
    add_subscribers(db_url, TARGETS - 1, slack_prefix="UP", direct_messages=True)  # DMs after each post
    began = datetime.now(UTC).replace(microsecond=0)
    dues = [began + timedelta(seconds=first_after + i * spacing) for i in range(sessions)]
    week = parse_offset("7d")  # the default invitation offset: local calendar days
    starts = [week.after(due, "Europe/Oslo") for due in dues]
    ids = plan_sessions(db_url, starts)
    fake = PacedSlack(
        channel_rate=1.0,
        workspace_rate=10.0,
        channel_burst=3.0,
        workspace_burst=10.0,
        announcements=ANNOUNCEMENTS,
    ).start()
    port = free_port()
    env = bot_environment(db_url, port, **slack_environ(fake, ANNOUNCEMENTS))
    try:
        bot = BotProcess.start(env, folder, "punctuality-bot.log")
        try:
            notes: list[str] = []
            if time.time() > dues[0].timestamp():
                notes.append("the bot took longer to start than the first due moment")
            # Idle: after start-up and before the first invitation falls due.
            time.sleep(max(0.0, min(2.0, dues[0].timestamp() - time.time() - 1.0)))
            rss = bot.rss_mb()
            deadline = dues[-1].timestamp() + 15
            wanted = {f"s{i}:invitation|" for i in ids}
            while time.time() < deadline:
                seen = {a.key.split("|")[0] + "|" for a in fake.accepted() if a.key}
                if wanted <= seen:
                    break
                time.sleep(0.1)
        finally:
            bot.stop()
        lags: list[float] = []
        missing = 0
        arrivals = fake.accepted()
        # Each invitation is a post and five DMs, paced across the workspace: the bot starts it `lead`
        # early (as it does any paced fan-out) so the last DM goes out at the due moment.
        lead = (TARGETS - WORKSPACE_BURST) * 60 / SlackSettings("", "").workspace_rate_per_minute
        for session_id, due in zip(ids, dues, strict=True):
            prefix = f"s{session_id}:invitation|"
            firsts = [a.at for a in arrivals if a.key and a.key.startswith(prefix)]
            if firsts:
                lags.append((min(firsts) - (due.timestamp() - lead)) * 1000)
            else:
                missing += 1
        return Punctuality(lags, missing, bot.startup_seconds, rss, notes)
    finally:
        fake.stop()
