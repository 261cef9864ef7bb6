"""Slash-command acknowledgement latency: signed `/baerekraft meld på` over HTTP from 1, 10 and 50
concurrent senders (`loadgen`, a process of its own), each level after the previous one's work is done.

The bot's figures are ratios to a baseline app measured on the same machine, whose speed drifts from
one minute to the next (other guests of its host, memory being reclaimed): the lean Bolt app's p99
moved from 0.5 to 0.8–1.1 ms with 1 sender between two runs an hour apart. `run_paired` therefore
runs the baseline right before each run of the bot, so both sides of a ratio see the same minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.common import ROOT, percentile
from bench.fakes import PacedSlack
from bench.loadgen import response_key

# (concurrent senders, requests): enough requests that p99 is not one stray sample (at 200 it was the
# second slowest, and moved by 2× from one run to the next on an idle machine)
LEVELS: tuple[tuple[int, int], ...] = ((1, 1000), (10, 2000), (50, 2500))
# During the fan-out, as many as before (each new person a subscriber more, whose memory the figure
# after the fan-out would count), five times each, in pairs with the leanest Bolt app as idle: the
# pairs of the three levels take about 40 s, inside the direct messages' 200 s.
DURING_LEVELS: tuple[tuple[int, int], ...] = ((1, 200), (10, 600), (50, 1000))
# Each level is run this many times and the run with the median p99 is the figure, for the bot and
# the Bolt apps alike: the machine's own hiccups then move neither side's figure.
REPEATS = 3
PAIRED_REPEATS = 5  # the bot beside the leanest Bolt app (run_paired), idle and during the fan-out
LEVEL_SECONDS = 15.0  # no level sends for longer than this
DRAIN_SECONDS = 90.0


@dataclass
class Level:
    concurrency: int
    latencies_ms: list[float]
    statuses: dict[str, int]
    wall_seconds: float
    started: float  # time.time()
    ended: float
    drained_seconds: float | None  # until every answer reached its response_url (None: not waited)
    p99_runs_ms: tuple[float, ...] = ()  # every run's p99, this one's included (see REPEATS)

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def max(self) -> float:
        return max(self.latencies_ms)

    def summary(self) -> dict[str, object]:
        return {
            "concurrency": self.concurrency,
            "requests": len(self.latencies_ms),
            "p50_ms": round(self.p50, 2),
            "p99_ms": round(self.p99, 2),
            "max_ms": round(self.max, 2),
            "statuses": self.statuses,
            "requests_per_second": round(len(self.latencies_ms) / self.wall_seconds, 1),
            "drained_seconds": None if self.drained_seconds is None else round(self.drained_seconds, 2),
            "p99_runs_ms": [round(p99, 2) for p99 in self.p99_runs_ms],
        }


class Users:
    """Hands out fresh Slack users for each level: known to the fake (so users.info answers), each
    with the response_url of its one command issued (so the reply is taken, as by Slack)."""

    def __init__(self, fake: PacedSlack, prefix: str) -> None:
        self.fake, self.prefix, self.next = fake, prefix, 1

    def take(self, n: int) -> int:
        first = self.next
        for number in range(first, first + n):
            user = f"{self.prefix}{number:07d}"
            self.fake.add_user(user, f"Bench User {number}", locale="nb-NO")
            self.fake.response_url(response_key(user, number))
        self.next += n
        return first


def run_level(
    events_url: str,
    fake: PacedSlack,
    users: Users,
    concurrency: int,
    requests: int,
    *,
    wait_for_answers: bool,
    max_seconds: float = LEVEL_SECONDS,
) -> Level:
    warmup = max(10, 2 * concurrency)
    first = users.take(warmup + requests)
    answered_before = fake.answered_commands
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        f"--url={events_url}",
        f"--response-base={fake.base}",
        f"--concurrency={concurrency}",
        f"--requests={requests}",
        f"--warmup={warmup}",
        f"--max-seconds={max_seconds}",
        f"--user-prefix={users.prefix}",
        f"--first-user={first}",
    ]
    started = time.time()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=max_seconds + 120, check=False
    )
    ended = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    drained: float | None = None
    if wait_for_answers:
        expected = answered_before + int(result["users_used"])
        began = time.perf_counter()
        while fake.answered_commands < expected and time.perf_counter() - began < DRAIN_SECONDS:
            time.sleep(0.05)
        drained = time.perf_counter() - began
    return Level(
        concurrency,
        [float(x) for x in result["latencies_ms"]],
        dict(result["statuses"]),
        float(result["wall_seconds"]),
        started,
        ended,
        drained,
    )


def run_levels(
    events_url: str,
    fake: PacedSlack,
    users: Users,
    *,
    wait_for_answers: bool = True,
    levels: tuple[tuple[int, int], ...] = LEVELS,
    repeats: int = REPEATS,
) -> list[Level]:
    """Each level `repeats` times in a row; the run with the median p99 stands for it."""
    result = []
    for c, n in levels:
        runs = [
            run_level(events_url, fake, users, c, n, wait_for_answers=wait_for_answers)
            for _ in range(repeats)
        ]
        result.append(_median_run(runs))
    return result


def run_paired(
    baseline_url: str,
    bot_url: str,
    fake: PacedSlack,
    *,
    levels: tuple[tuple[int, int], ...] = LEVELS,
    repeats: int = PAIRED_REPEATS,
) -> tuple[list[Level], list[Level]]:
    """Each level `repeats` times, each run of the bot (waiting for its answers) right after a run of
    the baseline; per side, the run with the median p99 stands for the level."""
    baseline_users, bot_users = Users(fake, "UP"), Users(fake, "UL")
    baselines, bots = [], []
    for c, n in levels:
        pairs = [
            (
                run_level(baseline_url, fake, baseline_users, c, n, wait_for_answers=False),
                run_level(bot_url, fake, bot_users, c, n, wait_for_answers=True),
            )
            for _ in range(repeats)
        ]
        baselines.append(_median_run([baseline for baseline, _ in pairs]))
        bots.append(_median_run([bot for _, bot in pairs]))
    return baselines, bots


def _median_run(runs: list[Level]) -> Level:
    median = sorted(runs, key=lambda level: level.p99)[len(runs) // 2]
    return replace(median, p99_runs_ms=tuple(level.p99 for level in runs))


def events_url(base_url: str) -> str:
    return f"{base_url}/slack/events"


def log_excerpt(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
