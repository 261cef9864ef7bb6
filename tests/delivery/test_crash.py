"""A real `baerekraft-bot run` killed with SIGKILL mid-fan-out, then restarted: everyone served once.

The fan-out is an invitation to 1,000 Slack subscribers who chose direct messages, sent to a local
Slack Web API fake. Every message carries its delivery key, so duplicates are counted per key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from bot.db import make_engine
from bot.models import Delivery, Identity, Person, Series, Subscription
from tests.slack.fakes.slack_api import BOT_TOKEN, FakeSlackAPI, running_fake

pytestmark = pytest.mark.slow  # starts real processes

RECIPIENTS = 1000
CHANNEL = "C0ANNOUNCE"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_channel(CHANNEL, "baerekraft")  # public; the bot joins it when it starts
        yield running


def _subscribers(db_url: str, n: int) -> None:
    """n Slack subscribers who chose DMs, written in bulk (the command path is tested elsewhere)."""
    now = datetime.now(UTC)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        series_id = conn.scalar(select(Series.id))
        first = (conn.scalar(select(Person.id).order_by(Person.id.desc()).limit(1)) or 0) + 1
        ids = range(first, first + n)
        conn.execute(
            insert(Person), [{"id": i, "name": f"P{i}", "language": "nb", "created_at": now} for i in ids]
        )
        conn.execute(
            insert(Identity),
            [
                {"person_id": i, "platform": "slack", "external_id": f"U{i:06d}", "created_at": now}
                for i in ids
            ],
        )
        conn.execute(
            insert(Subscription),
            [
                {
                    "person_id": i,
                    "series_id": series_id,
                    "active": True,
                    "source_channel": "slack",
                    "consented_at": now - timedelta(days=30),
                    "direct_messages": True,
                }
                for i in ids
            ],
        )
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('person', 'id'), (SELECT max(id) FROM person))"
            )
    engine.dispose()


def _env(db_url: str, fake: FakeSlackAPI) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_"))}
    environ.update(
        DATABASE_URL=db_url,
        SECRET_KEY="crash-test-secret-key-0123",
        PORT="0",
        LOG_LEVEL="WARNING",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="signing-secret",
        SLACK_CHANNEL_ID=CHANNEL,
        SLACK_API_URL=fake.url,
        DELIVERY_LEASE_SECONDS="5",
        # The fake does not pace; the bot's own workspace-wide pace would only make the test slow.
        SLACK_WORKSPACE_RATE_PER_MINUTE="600000",
    )
    return environ


def _bot(db_url: str, fake: FakeSlackAPI, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=_env(db_url, fake),
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "bot.log", "a"),
    )


def _keys(fake: FakeSlackAPI) -> Counter[str]:
    keys: Counter[str] = Counter()
    for channel, messages in fake.posted().items():
        for message in list(messages):
            metadata = message.get("metadata") or {}
            keys[metadata.get("event_payload", {}).get("key", f"?{channel}")] += 1
    return keys


def _all_finished(db_url: str) -> bool:
    """No delivery waits, is claimed or in flight: no process will send anything more."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            busy = conn.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.state.in_(("pending", "claimed", "sending")))
            )
    finally:
        engine.dispose()
    return busy == 0


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _fanout_ahead(db_url: str, fake: FakeSlackAPI, tmp_path: Path, title: str) -> None:
    """1,000 DM subscribers and a session in three hours: its invitation is due at once."""
    _subscribers(db_url, RECIPIENTS)
    start = (datetime.now(UTC) + timedelta(hours=3)).astimezone(ZoneInfo("Europe/Oslo"))
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "sessions",
            "add",
            "--title",
            title,
            "--start",
            f"{start:%Y-%m-%d %H:%M}",
        ],
        cwd=tmp_path,
        env=_env(db_url, fake),
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr


def test_kill_9_mid_fanout_then_restart_serves_everyone_once(
    db_url: str, fake: FakeSlackAPI, tmp_path: Path
) -> None:
    _fanout_ahead(db_url, fake, tmp_path, "Krasjtest")

    first = _bot(db_url, fake, tmp_path, "run", "--no-console")
    try:
        _wait(lambda: sum(_keys(fake).values()) >= 300, 60, "300 messages before the kill")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    sent_before = sum(_keys(fake).values())
    assert sent_before < RECIPIENTS + 1, "the fan-out finished before the kill: nothing was tested"

    second = _bot(db_url, fake, tmp_path, "run", "--no-console")
    try:
        _wait(lambda: len(_keys(fake)) >= RECIPIENTS + 1, 90, "every recipient after the restart")
        _wait(lambda: _all_finished(db_url), 30, "every delivery finished")  # nothing more can go out
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)

    keys = _keys(fake)
    assert len(keys) == RECIPIENTS + 1  # every DM and the channel post
    duplicates = {k: n for k, n in keys.items() if n > 1}
    print(f"\nsent before kill: {sent_before}, duplicates: {len(duplicates)}")
    assert len(duplicates) <= 1, duplicates  # at most the one in flight at the kill
    engine = make_engine(db_url)
    with engine.connect() as conn:
        states = Counter(conn.scalars(select(Delivery.state)))
    engine.dispose()
    assert states == {"sent": RECIPIENTS + 1}
    assert second.returncode == 0


def test_two_processes_on_postgresql_deliver_one_fanout_once(
    db_url: str, fake: FakeSlackAPI, tmp_path: Path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite supports one running process (documented); this runs on PostgreSQL")
    _fanout_ahead(db_url, fake, tmp_path, "To prosesser")
    bots = [_bot(db_url, fake, tmp_path, "run", "--no-console") for _ in range(2)]
    try:
        _wait(lambda: len(_keys(fake)) >= RECIPIENTS + 1, 90, "every recipient")
        _wait(lambda: _all_finished(db_url), 30, "every delivery finished")  # nothing more can go out
    finally:
        for bot in bots:
            bot.send_signal(signal.SIGTERM)
        for bot in bots:
            bot.wait(30)
    keys = _keys(fake)
    assert len(keys) == RECIPIENTS + 1
    assert max(keys.values()) == 1
    assert [bot.returncode for bot in bots] == [0, 0]
