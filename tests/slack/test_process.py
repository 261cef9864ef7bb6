"""The real thing: `baerekraft-bot run --no-console` in HTTP mode as a separate process, pointed at
the fake Slack through SLACK_API_URL, driven by signed requests, read back with `subscribers export`."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from handlers.slack import actions as ids
from tests.processes import start_bot
from tests.slack.fakes.slack_api import FakeSlackAPI, running_fake
from tests.slack.fakes.slack_bot import JOHN, KARI, add_people, sqlite_only
from tests.slack.fakes.slack_platform import SIGNING_SECRET, SlackPlatform

pytestmark = pytest.mark.slow  # starts real processes

FORM = "application/x-www-form-urlencoded"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_"))}
    env.update(DATABASE_URL=db_url, SECRET_KEY="slack-process-test-secret", LOG_LEVEL="INFO", **extra)
    return env


@dataclass
class Process:
    proc: subprocess.Popen[str]
    base_url: str
    fake: FakeSlackAPI
    slack: SlackPlatform

    def stop(self) -> str:
        """SIGTERM, as a service manager would; returns what the bot logged."""
        self.proc.send_signal(signal.SIGTERM)
        _, stderr = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, stderr
        return stderr


@contextmanager
def bot_process(db_url: str, cwd: Path, token: str | None = None, **extra: str) -> Iterator[Process]:
    """`baerekraft-bot run --no-console` with Slack in HTTP mode, pointed at a fresh fake Slack."""
    with running_fake() as fake:
        add_people(fake)
        port = free_port()
        env = environment(
            db_url,
            HOST="127.0.0.1",
            PORT=str(port),
            SLACK_BOT_TOKEN=token or fake.token or "",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.url,
            **extra,
        )
        proc = start_bot(cwd, env)
        base = f"http://127.0.0.1:{port}"
        slack = SlackPlatform(f"{base}/slack/events", fake)
        running = Process(proc, base, fake, slack)
        try:
            wait_until_serving(proc, base)
            yield running
        finally:
            slack.close()
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)


def wait_until_serving(proc: subprocess.Popen[str], base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the bot stopped: {proc.communicate()[1]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code in (200, 503):
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the bot did not start serving within 30 s")


def export(db_url: str, cwd: Path) -> list[dict[str, str]]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "subscribers", "export"],
        env=environment(db_url),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def test_subscribe_and_unsubscribe_against_the_running_bot(db_url: str, tmp_path: Path) -> None:
    with bot_process(db_url, tmp_path) as running:
        log = subscribe_and_unsubscribe(running)
    assert "Slack: connected as baerekraft in Fake Workspace" in log
    assert "Traceback" not in log
    rows = export(db_url, tmp_path)
    assert [(r["email"], r["name"], r["language"], r["source_channel"]) for r in rows] == [
        ("john@example.org", "John Smith", "en", "slack")
    ]
    assert "slack" in rows[0]["channels"]


def subscribe_and_unsubscribe(running: Process) -> str:
    """Kari subscribes by command and leaves by button; John subscribes by button. Returns the log."""
    slack, fake = running.slack, running.fake
    answer, key = slack.command("meld på", KARI)
    assert answer.status_code == 200
    assert "Du er nå påmeldt Bærekraftsfredag" in fake.wait_for(lambda: fake.responses(key))[0]["text"]
    _, key = slack.click(ids.SUBSCRIBE, "baerekraftsfredag", JOHN)
    assert "You are now subscribed" in fake.wait_for(lambda: fake.responses(key))[0]["text"]
    _, key = slack.click(ids.UNSUBSCRIBE, "baerekraftsfredag", KARI, where="home")
    fake.wait_for(lambda: fake.homes(KARI))  # the click on her Home refreshes it (the command did not:
    # she had not opened it)

    stale_body, _ = slack.command_body("meld på", KARI)
    assert slack.send(stale_body, FORM, timestamp=int(time.time()) - 600).status_code == 401

    log = running.stop()
    assert len(fake.homes(KARI)) == 1 and fake.homes(JOHN) == []
    return log


def test_a_refused_bot_token_is_one_log_line_and_the_bot_keeps_running(
    sqlite_template: Path, tmp_path: Path
) -> None:
    db_url = sqlite_only(sqlite_template, tmp_path).database_url  # about the log, not the database
    with bot_process(db_url, tmp_path, token="xoxb-revoked-token") as running:
        assert httpx.get(f"{running.base_url}/healthz").status_code == 200
        log = running.stop()
    refused = [line for line in log.splitlines() if "SLACK_BOT_TOKEN" in line]
    assert len(refused) == 1 and "invalid_auth" in refused[0]
    assert "Traceback" not in log


def test_the_running_bot_loads_no_command_line_library(sqlite_template: Path, tmp_path: Path) -> None:
    """A plain `run` starts without Typer (and the pydantic and rich it brings), httpx without its own
    command-line client, and on SQLite without PostgreSQL's dialect: each would cost start-up time and
    memory in both processes of the bot (bot/entry/cli/__init__.py)."""
    db_url = sqlite_only(sqlite_template, tmp_path).database_url
    log = tmp_path / "bot.log"
    with running_fake() as fake:
        port = free_port()
        env = environment(
            db_url,
            HOST="127.0.0.1",
            PORT=str(port),
            SLACK_BOT_TOKEN=fake.token or "",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.url,
            PYTHONPROFILEIMPORTTIME="1",  # each import on stderr, the forked worker's too
        )
        proc = start_bot(tmp_path, env, log)
        try:
            wait_until_serving(proc, f"http://127.0.0.1:{port}")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
    lines = log.read_text().splitlines()
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")}
    assert {"slack_bolt", "uvicorn", "httpx"} <= imported  # the scan sees the imports
    # rich and pygments would come with Typer, and with httpx's own client
    unwanted = ("typer", "pydantic", "rich", "pygments", "sqlalchemy.dialects.postgresql")
    assert sorted(m for m in imported if any(m == u or m.startswith(f"{u}.") for u in unwanted)) == []
