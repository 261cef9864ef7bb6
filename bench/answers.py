"""Answer latency: what a person waits for is the answer, not the ack. From a signed request to the
moment its reply arrives at the request's `response_url` on the Slack fake (which records arrivals
and, as Slack, takes at most 5 answers per response_url within 30 minutes), with a real `baerekraft-bot
run --no-console` (front and worker) on SQLite and on PostgreSQL:

- `/baerekraft meld på` from 1, 10 and 50 concurrent senders in a closed loop: each sender (a new
  user each time) sends the next command only once the answer to its last one arrived;
- a burst: 1,000 different people click «Meld meg på» (the `subscribe` button the invitation carries)
  within one second; the time from the first click to the last reply, and commands carried out a
  second over it.

The senders are a process of their own (`bench/answer_load.py`); the fake tells them of each
arrival through their stdin.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from bench.common import (
    ROOT,
    BotProcess,
    Figure,
    bot_environment,
    bot_process,
    free_port,
    fresh_sqlite,
    not_measured,
    percentile,
    pg_reachable,
    pg_schema,
    slack_environ,
)
from bench.fakes import PacedSlack
from bench.latency import Users, events_url
from bench.population import SERIES, add_subscribers, plan_sessions
from handlers.slack import actions
from tests.slack.fakes.slack_platform import SlackPlatform

LEVELS: tuple[tuple[int, int], ...] = ((1, 100), (10, 300), (50, 1000))  # (concurrent senders, commands)
QUICK_LEVELS: tuple[tuple[int, int], ...] = ((1, 30), (10, 100), (50, 200))
WARMUP = 30
BURST_CLICKS = 1000
BURST_SPREAD = 1.0  # seconds
BURST_CONNECTIONS = 50
SUBSCRIBERS = 10_000  # already on the list, so the lists the commands touch are not empty
ANSWER_WAIT = 120.0
P99_TARGET_MS = 1000.0
LAST_REPLY_TARGET_S = 5.0
RATE_TARGET = 250.0


@dataclass
class Level:
    concurrency: int
    latencies_ms: list[float]
    missing: int
    statuses: dict[str, int]
    wall_seconds: float

    def summary(self) -> dict[str, object]:
        return {
            "concurrency": self.concurrency,
            "commands": len(self.latencies_ms),
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p99_ms": round(percentile(self.latencies_ms, 99), 1),
            "max_ms": round(max(self.latencies_ms), 1),
            "missing": self.missing,
            "statuses": self.statuses,
            "answers_per_second": round(len(self.latencies_ms) / self.wall_seconds, 1),
        }


@dataclass
class Burst:
    clicks: int
    sending_seconds: float  # first click sent → last click sent
    last_reply_seconds: float | None  # first click sent → last reply arrived (None: some never came)
    answered: int
    latencies_ms: list[float]
    ack_p99_ms: float
    statuses: dict[str, int]
    # CPU of the bot's processes from the first click to the last reply: front and worker, the worker alone
    cpu_seconds: float = 0.0
    worker_cpu_seconds: float = 0.0

    @property
    def cpu_ms_per_command(self) -> float:
        return 1000 * self.cpu_seconds / self.answered if self.answered else 0.0

    @property
    def rate(self) -> float:
        return self.answered / self.last_reply_seconds if self.last_reply_seconds else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "clicks": self.clicks,
            "sending_seconds": round(self.sending_seconds, 2),
            "last_reply_seconds": _rounded(self.last_reply_seconds),
            "answered": self.answered,
            "commands_per_second": round(self.rate, 1),
            "answer_p50_ms": round(percentile(self.latencies_ms, 50), 1) if self.latencies_ms else None,
            "answer_p99_ms": round(percentile(self.latencies_ms, 99), 1) if self.latencies_ms else None,
            "ack_p99_ms": round(self.ack_p99_ms, 1),
            "statuses": self.statuses,
            "bot_cpu_ms_per_command": round(self.cpu_ms_per_command, 2),
            "worker_cpu_ms_per_command": round(1000 * self.worker_cpu_seconds / max(1, self.answered), 2),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class Backend:
    label: str
    levels: list[Level] = field(default_factory=list)
    burst: Burst | None = None


class Senders:
    """`bench/answer_load.py` as a process, told on stdin of each answer the fake took."""

    def __init__(self, fake: PacedSlack, url: str, folder: Path) -> None:
        self.fake, self.url, self.folder = fake, url, folder
        self._lock = threading.Lock()
        self._stdin: IO[bytes] | None = None

    def _heard(self, key: str, _at: float) -> None:
        with self._lock:
            if self._stdin is not None:
                with suppress(OSError, ValueError):
                    self._stdin.write(f"{key}\n".encode())
                    self._stdin.flush()

    def send(self, requests: list[tuple[str, bytes]], mode: str, concurrency: int) -> dict[str, Any]:
        path = self.folder / "answer-requests.json"
        path.write_text(json.dumps([{"key": key, "body": body.decode()} for key, body in requests]))
        command = [
            sys.executable,
            "-m",
            "bench.answer_load",
            f"--url={self.url}",
            f"--requests={path}",
            f"--mode={mode}",
            f"--concurrency={concurrency}",
            f"--spread={BURST_SPREAD}",
        ]
        proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        with self._lock:
            self._stdin = proc.stdin
        self.fake.on_response = self._heard
        try:
            out = proc.stdout.read()
            code = proc.wait(timeout=ANSWER_WAIT)
        finally:
            self.fake.on_response = None
            with self._lock:
                self._stdin = None
            with suppress(OSError):
                proc.stdin.close()
            if proc.poll() is None:
                proc.kill()
        if code != 0:
            raise RuntimeError(f"answer_load failed with exit code {code}")
        return dict(json.loads(out))


def _commands(platform: SlackPlatform, users: Users, n: int) -> list[tuple[str, bytes]]:
    first = users.take(n)
    out = []
    for number in range(first, first + n):
        body, key = platform.command_body("meld på", f"{users.prefix}{number:07d}")
        out.append((key, body))
    return out


def _clicks(platform: SlackPlatform, users: Users, n: int) -> list[tuple[str, bytes]]:
    first = users.take(n)
    out = []
    for number in range(first, first + n):
        body, key = platform.click_body(actions.SUBSCRIBE, SERIES, f"{users.prefix}{number:07d}")
        out.append((key, body))
    return out


def _latencies(fake: PacedSlack, sent_at: dict[str, float]) -> tuple[list[float], list[float]]:
    """Each answer's latency (ms) from its request's sending to its arrival at the fake; and the
    arrival times (of the requests answered)."""
    arrivals = fake.response_arrivals()
    latencies, times = [], []
    for key, sent in sent_at.items():
        arrived = arrivals.get(key)
        if arrived:
            latencies.append((arrived[0] - sent) * 1000)
            times.append(arrived[0])
    return latencies, times


def _wait_answers(fake: PacedSlack, keys: list[str]) -> None:
    deadline = time.monotonic() + ANSWER_WAIT
    while time.monotonic() < deadline:
        arrivals = fake.response_arrivals()
        if all(key in arrivals for key in keys):
            return
        time.sleep(0.02)


def measure(folder: Path, label: str, db_url: str, *, quick: bool) -> Backend:
    fake = PacedSlack(channel_rate=1.0, workspace_rate=10.0).start()
    result = Backend(label)
    try:
        add_subscribers(db_url, 1000 if quick else SUBSCRIBERS, slack_prefix="US", direct_messages=True)
        today = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
        plan_sessions(db_url, [today + timedelta(days=30)])
        port = free_port()
        env = bot_environment(db_url, port, **slack_environ(fake))
        with bot_process(env, folder, f"answers-{label.lower()}-bot.log") as bot:
            url = events_url(bot.base_url)
            platform = SlackPlatform(url, fake)
            senders = Senders(fake, url, folder)
            users = Users(fake, "UA")
            senders.send(_commands(platform, users, WARMUP), "closed", 5)  # lazy loading; not counted
            for concurrency, n in QUICK_LEVELS if quick else LEVELS:
                out = senders.send(_commands(platform, users, n), "closed", concurrency)
                latencies, _ = _latencies(fake, out["sent_at"])
                result.levels.append(
                    Level(concurrency, latencies, len(out["missing"]), out["statuses"], out["wall_seconds"])
                )
            cpu = _cpu(bot)
            result.burst = _burst(fake, platform, senders, Users(fake, "UC"))
            after = _cpu(bot)
            result.burst.cpu_seconds = sum(after) - sum(cpu)
            result.burst.worker_cpu_seconds = after[1] - cpu[1]
            platform.http.close()
    finally:
        fake.stop()
    return result


def _cpu(bot: BotProcess) -> tuple[float, float]:
    """CPU seconds so far of the front and of its worker process."""
    front, *workers = bot.processes()
    seconds = [sum(p.cpu_times()[:2]) for p in (front, *workers)]
    return seconds[0], sum(seconds[1:])


def _burst(fake: PacedSlack, platform: SlackPlatform, senders: Senders, users: Users) -> Burst:
    clicks = _clicks(platform, users, BURST_CLICKS)
    out = senders.send(clicks, "burst", BURST_CONNECTIONS)
    _wait_answers(fake, [key for key, _ in clicks])
    sent = list(out["sent_at"].values())
    latencies, times = _latencies(fake, out["sent_at"])
    complete = len(times) == len(clicks)
    return Burst(
        len(clicks),
        max(sent) - min(sent),
        max(times) - min(sent) if complete else None,
        len(times),
        latencies,
        percentile(out["ack_ms"], 99),
        out["statuses"],
    )


def run_answers(folder: Path, *, quick: bool = False) -> tuple[list[Figure], dict[str, Any]]:
    """The figures and the raw results, on SQLite, then PostgreSQL when it answers."""
    backends = [measure(folder, "SQLite", fresh_sqlite(folder, "answers.db"), quick=quick)]
    problem = pg_reachable()
    if problem is None:
        with pg_schema() as url:
            backends.append(measure(folder, "PostgreSQL", url, quick=quick))
    figures: list[Figure] = []
    raw: dict[str, Any] = {}
    for backend in backends:
        raw[backend.label.lower()] = {
            "levels": [level.summary() for level in backend.levels],
            "burst": backend.burst.summary() if backend.burst else None,
        }
        figures += _figures(backend)
    if problem is not None:
        for what in ("`meld på` answer, 50 concurrent", "1,000 clicks: last reply"):
            figures.append(not_measured("answer", f"PostgreSQL: {what}", "ms", problem))
    return figures, raw


def _figures(backend: Backend) -> list[Figure]:
    figures = []
    for level in backend.levels:
        p50, p99 = percentile(level.latencies_ms, 50), percentile(level.latencies_ms, 99)
        note = f"n={len(level.latencies_ms)} closed loop, max {max(level.latencies_ms):.0f} ms"
        if level.missing:
            note += f", {level.missing} never answered"
        figures.append(
            Figure(
                "answer",
                f"{backend.label}: `meld på` answer, {level.concurrency} concurrent",
                round(p99, 1),
                "ms",
                target="p99 < 1 s",
                met=p99 < P99_TARGET_MS and not level.missing,
                note=note,
                details=level.summary(),
                shown=f"p50 {p50:.0f} · p99 {p99:.0f} ms",
            )
        )
    burst = backend.burst
    if burst is None:
        return figures
    last = burst.last_reply_seconds
    figures.append(
        Figure(
            "answer",
            f"{backend.label}: {burst.clicks:,} «Meld meg på» clicks in {BURST_SPREAD:g} s: last reply",
            None if last is None else round(last, 2),
            "s",
            target=f"< {LAST_REPLY_TARGET_S:g} s",
            met=last is not None and last < LAST_REPLY_TARGET_S,
            note=(
                f"first click → last reply; clicks sent over {burst.sending_seconds:.2f} s, ack p99 "
                f"{burst.ack_p99_ms:.0f} ms"
                + ("" if last is not None else f"; only {burst.answered:,} answered")
            ),
            details=burst.summary(),
            shown=None if last is None else f"{last:.2f} s",
        )
    )
    figures.append(
        Figure(
            "answer",
            f"{backend.label}: commands carried out per second in the burst",
            round(burst.rate, 1),
            "/s",
            target=f"≥ {RATE_TARGET:g}/s",
            met=burst.rate >= RATE_TARGET,
            note=(
                f"{burst.answered:,} answers ÷ first click → last reply; bot CPU "
                f"{burst.cpu_ms_per_command:.1f} ms a command (front + worker; worker "
                f"{1000 * burst.worker_cpu_seconds / max(1, burst.answered):.1f})"
            ),
        )
    )
    return figures
