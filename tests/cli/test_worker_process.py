"""`run` as a service: the web front in one process, the work in a forked worker process that never
outlives it; when the worker dies, the front stops too (exit 1) for the service manager to restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.db import make_engine
from bot.models import InboundRequest
from tests.slack.fakes.slack_bot import KARI, sqlite_only
from tests.slack.test_process import FORM, Process, bot_process, environment

pytestmark = pytest.mark.slow  # starts real processes

CHANNEL = "C0ANNOUNCE"
SENT_SLACK = "baerekraft_send_attempts_total[('channel', 'slack'), ('outcome', 'sent')]"


def worker_of(running: Process) -> psutil.Process:
    children = psutil.Process(running.proc.pid).children()
    assert len(children) == 1, children
    return children[0]


def gone(process: psutil.Process, timeout: float = 15.0) -> bool:
    try:
        process.wait(timeout=timeout)
    except psutil.TimeoutExpired:
        return False
    return True


def subscribe(running: Process) -> str:
    body, key = running.slack.command_body("meld på", KARI)
    assert running.slack.send(body, FORM).status_code == 200
    return str(running.fake.wait_for(lambda: running.fake.responses(key))[0]["text"])


def threads_of(process: psutil.Process) -> list[tuple[int, int]]:
    """Each thread's (scheduling policy, nice value), the main thread first."""
    ids = sorted(thread.id for thread in process.threads())
    assert ids[0] == process.pid
    return [(os.sched_getscheduler(tid), psutil.Process(tid).nice()) for tid in ids]


def test_the_worker_carries_out_requests_only_when_the_front_is_idle_and_sends_at_nice_10(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = sqlite_only(sqlite_template, tmp_path)
    with bot_process(settings.database_url, tmp_path) as running:
        assert "påmeldt" in subscribe(running)  # every thread of the command side has started
        worker = worker_of(running)
        front = psutil.Process(running.proc.pid)
        assert os.sched_getscheduler(front.pid) == os.SCHED_OTHER
        main, *others = threads_of(worker)
        assert main == (os.SCHED_OTHER, front.nice() + 10)  # and so the senders it starts
        idle = [how for how in others if how[0] == os.SCHED_IDLE]
        assert len(idle) >= 4  # the inbox worker's threads, the writer, the receiver, the answers
        assert set(others) - set(idle) == {main}  # every other thread as the main one (the senders)
        log = running.stop()
    assert "CPU priority: carrying out requests idle, sending nice 10" in log and "Traceback" not in log
    assert gone(worker)


def test_the_worker_runs_at_a_nice_value_when_idle_is_off(sqlite_template: Path, tmp_path: Path) -> None:
    settings = sqlite_only(sqlite_template, tmp_path)
    with bot_process(settings.database_url, tmp_path, WORKER_IDLE="false", WORKER_NICE="7") as running:
        assert "påmeldt" in subscribe(running)
        worker = worker_of(running)
        front = psutil.Process(running.proc.pid)
        assert set(threads_of(worker)) == {(os.SCHED_OTHER, front.nice() + 7)}
        assert "CPU priority: nice 7" in running.stop()


def test_commands_acked_before_the_worker_died_are_recorded_by_the_front(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The front hands acked requests to the worker to record; a worker that dies before it confirmed
    them leaves them to the front, which records them before it stops (exit 1)."""
    settings = sqlite_only(sqlite_template, tmp_path)
    with bot_process(settings.database_url, tmp_path) as running:
        worker = worker_of(running)
        worker.suspend()  # it reads nothing more from the pipe, and confirms nothing
        bodies = [running.slack.command_body("meld på", KARI)[0] for _ in range(20)]
        assert [running.slack.send(body, FORM).status_code for body in bodies] == [200] * 20
        worker.kill()
        _, log = running.proc.communicate(timeout=30)
    assert running.proc.returncode == 1
    assert "20 acked request(s) not recorded by the worker process" in log
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            kinds = conn.execute(select(InboundRequest.kind)).scalars().all()
    finally:
        engine.dispose()
    assert kinds == ["command"] * 20  # each acked command recorded, once


def test_the_worker_stops_when_the_front_is_killed(sqlite_template: Path, tmp_path: Path) -> None:
    settings = sqlite_only(sqlite_template, tmp_path)
    with bot_process(settings.database_url, tmp_path) as running:
        worker = worker_of(running)
        running.proc.send_signal(signal.SIGKILL)
        running.proc.wait(timeout=10)
        assert gone(worker), "the worker outlived the front"


def test_the_front_stops_with_exit_1_when_the_worker_dies(sqlite_template: Path, tmp_path: Path) -> None:
    settings = sqlite_only(sqlite_template, tmp_path)
    with bot_process(settings.database_url, tmp_path) as running:
        worker_of(running).send_signal(signal.SIGKILL)
        _, log = running.proc.communicate(timeout=30)
        assert running.proc.returncode == 1
        assert "the worker process stopped" in log


@pytest.mark.parametrize("value", ["false", "0"])
def test_one_process_when_asked(sqlite_template: Path, tmp_path: Path, value: str) -> None:
    settings = sqlite_only(sqlite_template, tmp_path)
    with bot_process(settings.database_url, tmp_path, WORKER_PROCESS=value) as running:
        assert psutil.Process(running.proc.pid).children() == []
        assert "påmeldt" in subscribe(running)
        assert "worker process" not in running.stop()


def test_the_fronts_metrics_count_the_sends_of_the_worker_process(
    sqlite_template: Path, tmp_path: Path
) -> None:
    settings = sqlite_only(sqlite_template, tmp_path)
    start = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d 09:00")
    spare = tmp_path / "tmp"
    spare.mkdir()
    extra = {"SLACK_CHANNEL_ID": CHANNEL, "TMPDIR": str(spare)}
    with bot_process(settings.database_url, tmp_path, **extra) as running:
        [folder] = spare.iterdir()  # where the two processes keep their metrics
        assert folder.name.startswith("baerekraft-metrics-")
        running.fake.add_channel(CHANNEL, "baerekraft", member=True)
        add = ("sessions", "add", "--series", "baerekraftsfredag", "--title", "Målt", "--start", start)
        subprocess.run(
            [sys.executable, "-m", "bot", *add],
            env=environment(settings.database_url),
            cwd=tmp_path,
            check=True,
            capture_output=True,
            timeout=60,
        )
        running.fake.wait_for(lambda: running.fake.messages(CHANNEL), timeout=40)  # the invitation

        def counted() -> dict[str, float] | None:
            text = httpx.get(f"{running.base_url}/metrics").text
            found = {
                f"{s.name}{sorted(s.labels.items())}": s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            return found if found.get(SENT_SLACK) else None

        found = running.fake.wait_for(counted, timeout=10)
        assert found[SENT_SLACK] == 1
        assert found["baerekraft_send_seconds_count[('channel', 'slack')]"] == 1
        running.stop()
    assert list(spare.iterdir()) == []  # the front removed its metrics folder
