"""One reminder to 10,000 Slack subscribers by direct message and 2,000 by mail, sent by a real
`baerekraft-bot run --no-console` against fakes that enforce the platforms' limits, scaled in time.

The floor is what the limits allow at best: N ÷ the (scaled) rate of the limit that binds. For the
direct messages that is Slack's workspace-wide cap (each DM is its own channel, so the per-channel
limit never binds); for mail Exchange's messages per minute. The baseline is a naive loop
(`bench.naive`) against a fresh fake with the same limits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    BotProcess,
    bot_environment,
    free_port,
    fresh_sqlite,
    microsoft_environ,
    slack_environ,
)
from bench.fakes import PacedGraph, PacedSlack
from bench.population import add_subscribers, plan_sessions
from handlers.slack.sender import WORKSPACE_BURST
from tests.microsoft365.fakes.identity_provider import FakeIdentityProvider

ANNOUNCEMENTS = "C0ANNOUNCE"
SLACK_PREFIX = "UF"
MAIL_DOMAIN = "bench.example"
# The bot's first planner pass computes how early the mail must start; with 12,000 subscribers that
# takes tens of seconds (see the report), so the mail is made due well after it.
PLANNING_MARGIN = 45.0


@dataclass(frozen=True)
class Limits:
    """The platforms' limits (real values) and the factors that scale them in time."""

    slack_channel_per_second: float = 1.0
    # Slack documents a workspace-wide cap on chat.postMessage without a figure (PLATFORM-FACTS:
    # unconfirmed); 600 a minute is the assumption here (third-party reports give 500-600 a minute).
    slack_workspace_per_minute: float = 600.0
    slack_channel_burst: float = 3.0
    slack_workspace_burst: float = 10.0
    mail_per_minute: float = 30.0  # Exchange Online, per mailbox
    mail_burst: float = 30.0  # "30 a minute": a minute's worth may come at once
    # Time runs this many times faster for each platform. Chosen so that the scaled caps (50 DMs and
    # 20 mails a second) sit just under what one bot process sends on the bench machine (about 55 and
    # 23 a second, measured): the regime the real caps (10/s and 0.5/s) put the bot in, where pacing
    # decides. Much larger factors measure the bot's own speed instead of its pacing.
    slack_scale: float = float(os.environ.get("BENCH_SLACK_SCALE", "5"))
    mail_scale: float = float(os.environ.get("BENCH_MAIL_SCALE", "40"))

    @property
    def slack_workspace_rate(self) -> float:
        """Scaled, per second."""
        return self.slack_workspace_per_minute / 60 * self.slack_scale

    @property
    def slack_channel_rate(self) -> float:
        return self.slack_channel_per_second * self.slack_scale

    @property
    def mail_rate(self) -> float:
        """Scaled, per second."""
        return self.mail_per_minute / 60 * self.mail_scale

    def slack_fake(self) -> PacedSlack:
        return PacedSlack(
            channel_rate=self.slack_channel_rate,
            workspace_rate=self.slack_workspace_rate,
            channel_burst=self.slack_channel_burst,
            workspace_burst=self.slack_workspace_burst,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "slack_scale": self.slack_scale,
            "mail_scale": self.mail_scale,
            "slack_channel_per_second_real": self.slack_channel_per_second,
            "slack_workspace_per_minute_real_assumed": self.slack_workspace_per_minute,
            "slack_workspace_per_second_scaled": self.slack_workspace_rate,
            "slack_channel_per_second_scaled": self.slack_channel_rate,
            "slack_bursts": {"channel": self.slack_channel_burst, "workspace": self.slack_workspace_burst},
            "mail_per_minute_real": self.mail_per_minute,
            "mail_per_minute_scaled": self.mail_per_minute * self.mail_scale,
            "mail_burst": self.mail_burst,
            "retry_after": "integer seconds, at least 1 (not scaled: HTTP has nothing finer)",
        }


@dataclass
class ChannelOutcome:
    messages: int
    floor_seconds: float
    wall_seconds: float | None  # None: not all went out before the deadline
    accepted: int
    calls: int
    throttled: int
    duplicates: int
    started_at: float
    last_at: float | None
    first_at: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.wall_seconds is None else self.wall_seconds / self.floor_seconds

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.calls if self.calls else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "accepted": self.accepted,
            "calls": self.calls,
            "429s": self.throttled,
            "429_share": round(self.throttled_share, 4),
            "duplicates": self.duplicates,
            "floor_seconds": round(self.floor_seconds, 2),
            "wall_seconds": None if self.wall_seconds is None else round(self.wall_seconds, 2),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "first_request_after_seconds": None
            if self.first_at is None
            else round(self.first_at - self.started_at, 3),
            "sending_seconds": (
                None
                if self.first_at is None or self.last_at is None
                else round(self.last_at - self.first_at, 2)
            ),
        }


@dataclass
class FanoutRun:
    limits: Limits
    slack: ChannelOutcome | None = None
    mail: ChannelOutcome | None = None
    mail_problem: str | None = None
    startup_seconds: float = 0.0
    rss_idle_mb: float = 0.0
    busy_after_start: float = 0.0  # seconds the bot was busy after /healthz answered
    rss_after_mb: float = 0.0
    cpu_seconds: float = 0.0
    before: Any = None
    during: Any = None
    log_tail: str = ""
    notes: list[str] = field(default_factory=list)


def run_fanout(
    folder: Path,
    limits: Limits,
    slack_dms: int,
    mails: int,
    during: Callable[[BotProcess, PacedSlack], Any] | None = None,
    margin: float = PLANNING_MARGIN,
    before: Callable[[PacedSlack], Any] | None = None,
) -> FanoutRun:
    """Start the bot with the subscribers in place and the reminder due shortly; run `before` once it
    is quiet (and before the first channel falls due) and `during` once the direct messages start;
    wait until everything went out (bounded); measure at the fakes."""
    run = FanoutRun(limits)
    db_url = fresh_sqlite(folder, "fanout.db")
    add_subscribers(db_url, slack_dms, slack_prefix=SLACK_PREFIX, direct_messages=True)
    add_subscribers(db_url, mails, email_domain=MAIL_DOMAIN, channel="web")
    slack_total = slack_dms + 1  # and the post in the announcement channel
    slack_floor = slack_total / limits.slack_workspace_rate
    mail_interval = 60 / (limits.mail_per_minute * limits.mail_scale)
    mail_floor = mails / limits.mail_rate
    # The engine starts a rate-limited fan-out early enough to end at the due time: one interval of
    # the pace that binds (for the direct messages the workspace-wide one) per send beyond its burst.
    mail_lead = mail_interval * max(mails - 1, 0)
    slack_lead = max(slack_total - WORKSPACE_BURST, 0) / limits.slack_workspace_rate

    slack = limits.slack_fake().start()
    idp = FakeIdentityProvider().start()
    graph = PacedGraph(idp, per_second=limits.mail_rate, burst=limits.mail_burst).start()
    port = free_port()
    env = bot_environment(
        db_url,
        port,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        **slack_environ(slack, ANNOUNCEMENTS),
        **microsoft_environ(idp, graph),
        SLACK_RATE_PER_SECOND=str(limits.slack_channel_rate),
        # The bot paces to the same (assumed, scaled) workspace cap the fake enforces.
        SLACK_WORKSPACE_RATE_PER_MINUTE=str(limits.slack_workspace_per_minute * limits.slack_scale),
        MAIL_RATE_PER_MINUTE=str(round(limits.mail_per_minute * limits.mail_scale)),
    )
    try:
        # The first channel starts `lead` before the due time, `margin` after the bot started.
        due = datetime.now(UTC) + timedelta(seconds=margin + max(mail_lead, slack_lead))
        due = due.replace(microsecond=0) + timedelta(seconds=1)
        # Only the 1-hour reminder falls in the run: the invitation is set 30 minutes before the start,
        # after it, so nothing else is sent (and the Teams meeting gets no attendees yet).
        plan_sessions(db_url, [due + timedelta(hours=1)], invitation="30m", reminders="1h")
        due_ts = due.timestamp()
        mail_start = due_ts - mail_lead
        slack_start = due_ts - slack_lead
        first_start = min(mail_start, slack_start) if mails else slack_start

        bot = BotProcess.start(env, folder, "fanout-bot.log")
        try:
            run.startup_seconds = bot.startup_seconds
            run.busy_after_start = bot.wait_until_quiet(max(1.0, first_start - time.time() - 1.0))
            run.rss_idle_mb = bot.rss_mb()
            if time.time() > first_start:
                run.notes.append("the bot was still busy planning when the first channel fell due")
            elif before is not None:
                run.before = before(slack)
                if time.time() > first_start:
                    run.notes.append("what ran before the fan-out ran into it")
            _sleep_until(slack_start + 0.5)  # the direct messages are going out
            if during is not None:
                run.during = during(bot, slack)
            deadline = time.time() + max(4 * slack_floor, 4 * mail_floor) + 60
            while time.time() < deadline:
                if len(slack.accepted()) >= slack_total and (mails == 0 or len(graph.accepted()) >= mails):
                    break
                if bot.proc.poll() is not None:
                    run.notes.append("the bot stopped during the fan-out")
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # anything sent twice would show up now
            run.rss_after_mb = bot.rss_mb()
            run.cpu_seconds = bot.cpu_seconds()
        finally:
            bot.stop()
            run.log_tail = bot.log_tail(40)
        run.slack = _outcome(slack_total, slack_floor, slack_start, slack)
        if mails:
            run.mail = _outcome(mails, mail_floor, mail_start, graph)
            if run.mail.accepted == 0:
                run.mail_problem = _first_problem(bot.log_path)
    finally:
        slack.stop()
        graph.stop()
        idp.stop()
    return run


def _outcome(
    total: int, floor: float, started: float, fake: PacedSlack | PacedGraph, *, require_all: bool = True
) -> ChannelOutcome:
    """What the fake saw; the wall time runs from `started` to the last accepted message (None when
    `require_all` and not everything arrived)."""
    accepted = fake.accepted()
    last = max((a.at for a in accepted), default=None)
    with fake._pace_lock:
        first = min((a.at for a in fake.arrivals), default=None)
    done = len(accepted) >= total or not require_all
    with fake._pace_lock:
        calls = len(fake.arrivals)
    return ChannelOutcome(
        messages=total,
        floor_seconds=floor,
        wall_seconds=(last - started) if done and last is not None else None,
        accepted=len(accepted),
        calls=calls,
        throttled=fake.throttled(),
        duplicates=fake.duplicates(),
        started_at=started,
        last_at=last,
        first_at=first,
    )


def _sleep_until(moment: float) -> None:
    left = moment - time.time()
    if left > 0:
        time.sleep(left)


def _first_problem(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    found = [line for line in lines if "mail" in line.lower() and ("ERROR" in line or "WARNING" in line)]
    return (found or lines or ["no log lines"])[0][-300:]


@dataclass
class NaiveRun:
    outcome: ChannelOutcome
    lost: int
    not_tried: int


def run_naive(folder: Path, limits: Limits, users: int, max_seconds: float) -> NaiveRun:
    """The naive loop against a fresh fake with the same limits."""
    slack = limits.slack_fake().start()
    try:
        began = time.time()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.naive",
                f"--api-url={slack.url}",
                "--prefix=UN",
                f"--users={users}",
                f"--max-seconds={max_seconds}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=max_seconds + 60,
            check=False,
        )
        (folder / "naive.log").write_text(done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"the naive sender failed: {done.stderr[-1500:]}")
        result = json.loads(done.stdout)
        arrivals = list(slack.arrivals)
        first = min((a.at for a in arrivals), default=began)
        outcome = _outcome(users, users / limits.slack_workspace_rate, first, slack, require_all=False)
        return NaiveRun(outcome, int(result["lost"]), int(result["not_tried"]))
    finally:
        slack.stop()
