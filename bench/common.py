"""What the benchmarks share: figures, percentiles, databases, and the bot as a real process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from sqlalchemy import text

from bench.fakes import local_ca
from bot.clock import Clock
from bot.db import make_engine
from bot.entry.composition import App, build
from bot.entry.settings import BotSettings
from bot.migrate import upgrade
from tests.microsoft365.fakes.graph_api import ORGANISER, FakeGraph
from tests.microsoft365.fakes.identity_provider import CLIENT_ID, CLIENT_SECRET, TENANT, FakeIdentityProvider
from tests.slack.fakes.slack_api import FakeSlackAPI
from tests.slack.fakes.slack_platform import SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START_TIMEOUT = 60.0
SECRET_KEY = "bench-secret-key-0123456789abcdef"


@dataclass
class Figure:
    """One line of the table. `value` is None when the figure could not be measured (`note` says why)."""

    group: str
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str | None = None
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # How the table shows the measured value and the baseline (default: the number and its unit).
    shown: str | None = None
    baseline_shown: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def not_measured(group: str, name: str, unit: str, reason: str, target: str | None = None) -> Figure:
    return Figure(group, name, None, unit, target=target, note=f"not measured: {reason}")


def machine_speed() -> float:
    """Milliseconds of CPU a fixed piece of interpreter work takes here now (the median of five).

    The machine's speed drifts (the guest of a shared host): the same code took 2.2 ms of CPU a
    command in one run and 5.5 ms in one two hours later. The bench records this before each phase
    so that two runs' figures can be told apart from two machines' minutes."""
    samples = []
    for _ in range(5):
        began = time.thread_time()
        total = 0
        for number in range(1_000_000):
            total += number % 7
        samples.append((time.thread_time() - began) * 1000)
    return statistics.median(samples)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- databases ---------------------------------------------------------------------------------------


def fresh_sqlite(folder: Path, name: str = "bench.db") -> str:
    """A new, migrated SQLite database file in `folder`; returns its URL."""
    url = f"sqlite:///{folder / name}"
    upgrade(url)
    return url


def pg_reachable() -> str | None:
    """None when PostgreSQL answers at PG_URL, else why not."""
    try:
        engine = make_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {PG_URL.split('@')[-1]} unreachable ({type(exc).__name__})"
    return None


@contextmanager
def pg_schema() -> Iterator[str]:
    """A private, migrated schema on PG_URL for the duration; dropped afterwards. Yields its URL."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def scratch() -> Iterator[Path]:
    """A temporary folder for databases and logs; kept when BENCH_KEEP is set (to read the logs)."""
    folder = Path(tempfile.mkdtemp(prefix="baerekraft-bench-"))
    try:
        yield folder
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


# --- the bot as a process ----------------------------------------------------------------------------


def bot_environment(db_url: str, port: int, **extra: str) -> dict[str, str]:
    """The process environment without any real credentials, plus the bench's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_", "GRAPH_"))}
    env.update(
        DATABASE_URL=db_url,
        SECRET_KEY=SECRET_KEY,
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def in_process_bot(db_url: str, clock: Clock | None = None) -> App:
    """The whole bot in this process, on a database the bench filled (and migrated)."""
    settings = BotSettings(database_url=db_url, secret_key=SECRET_KEY, secret_key_is_temporary=False)
    return build(settings, clock=clock, migrate=False)


def slack_environ(fake: FakeSlackAPI, channel: str = "C0ANNOUNCE") -> dict[str, str]:
    """The settings that point the bot at a Slack fake, announcing in `channel`."""
    return {
        "SLACK_BOT_TOKEN": fake.token or "",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.url,
        "SLACK_CHANNEL_ID": channel,
    }


def microsoft_environ(idp: FakeIdentityProvider, graph: FakeGraph) -> dict[str, str]:
    """The settings that point the bot at the Microsoft 365 fakes, over TLS with the test CA."""
    return {
        "MS_TENANT_ID": TENANT,
        "MS_CLIENT_ID": CLIENT_ID,
        "MS_CLIENT_SECRET": CLIENT_SECRET,
        "MS_ORGANISER": ORGANISER,
        "MS_AUTHORITY_HOST": idp.url,
        "GRAPH_API_URL": graph.base,
        **local_ca().environ(),
    }


@dataclass
class BotProcess:
    """`baerekraft-bot run --no-console` started by the bench; `stop()` ends it (SIGTERM, then SIGKILL)."""

    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    startup_seconds: float = 0.0

    @classmethod
    def start(cls, env: dict[str, str], cwd: Path, log_name: str = "bot.log") -> BotProcess:
        log_path = cwd / log_name
        with open(log_path, "ab") as log:
            began = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--no-console"],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        running = cls(proc, f"http://127.0.0.1:{env['PORT']}", log_path)
        try:
            running.startup_seconds = running._wait_healthy(began)
        except BaseException:
            running.stop()
            raise
        return running

    def _wait_healthy(self, began: float) -> float:
        """Seconds from process start to the first 200 from /healthz."""
        deadline = began + START_TIMEOUT
        with httpx.Client(timeout=1.0) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the bot stopped at start-up; see {self.log_path}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(f"{self.base_url}/healthz").status_code == 200:
                        return time.perf_counter() - began
                except httpx.TransportError:
                    pass
                time.sleep(0.005)
        raise RuntimeError(f"the bot did not answer /healthz within {START_TIMEOUT:.0f} s")

    def processes(self) -> list[psutil.Process]:
        """The bot's processes: `run` (the front) and its forked worker."""
        front = psutil.Process(self.proc.pid)
        return [front, *front.children(recursive=True)]

    def rss_mb(self) -> float:
        """Resident memory of all the bot's processes, each shared page counted once: the sum of their
        proportional set sizes (PSS). The worker is forked from the front, so most pages are shared; a
        sum of RSS would count them twice (`rss_each_mb` gives those figures)."""
        return sum(float(p.memory_full_info().pss) for p in self.processes()) / 2**20

    def rss_each_mb(self) -> list[float]:
        return [round(float(p.memory_info().rss) / 2**20, 1) for p in self.processes()]

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes():
            times = process.cpu_times()
            total += float(times.user + times.system)
        return total

    def wait_until_quiet(self, limit: float, *, busy_below: float = 0.1, window: float = 1.0) -> float:
        """Wait until the process uses less than `busy_below` of a core for `window` seconds (its
        start-up work done), at most `limit` seconds; returns the seconds waited."""
        began = time.perf_counter()
        last = self.cpu_seconds()
        while time.perf_counter() - began < limit:
            time.sleep(window)
            now = self.cpu_seconds()
            if now - last < busy_below * window:
                break
            last = now
        return time.perf_counter() - began

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


@contextmanager
def bot_process(env: dict[str, str], cwd: Path, log_name: str = "bot.log") -> Iterator[BotProcess]:
    running = BotProcess.start(env, cwd, log_name)
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def python_process(
    args: list[str], cwd: Path, log_name: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A helper process of the bench (`python -m bench.<module> ...`), always stopped afterwards."""
    with open(cwd / log_name, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env or dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def wait_http_ok(url: str, timeout: float = 30.0) -> float:
    """Poll `url` until it answers below 500; returns the seconds it took."""
    began = time.perf_counter()
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() - began < timeout:
            try:
                if client.get(url).status_code < 500:
                    return time.perf_counter() - began
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
