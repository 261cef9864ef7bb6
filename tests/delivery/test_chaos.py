"""Chaos, short enough for CI: two `baerekraft-bot run` services on PostgreSQL share a 1,000-DM
invitation while a fifth of Slack's answers fail (429 with Retry-After, 500 before acting, 500 after
the post was made, and two timeouts), people type `/baerekraft meld på` throughout, one service is
killed with SIGKILL and restarted, and the other's database connections are cut.

What must hold: nothing lost (every DM and the channel post went out), no duplicate but the single
message in flight at the kill, every row ended `sent`, and every command Slack got a 200 for carried
out (its person subscribed), whichever service acknowledged it and whatever happened to it after.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from bot.db import make_engine
from bot.models import Delivery, Identity, InboundRequest, Subscription
from tests.delivery.test_crash import (
    RECIPIENTS,
    _all_finished,
    _env,
    _fanout_ahead,
    _keys,
    _wait,
    fake,  # noqa: F401  (the fixture)
)
from tests.processes import start_bot
from tests.slack.fakes.slack_api import FakeSlackAPI, Fault
from tests.slack.fakes.slack_platform import SlackPlatform

pytestmark = pytest.mark.slow  # starts real processes

SIGNING_SECRET = "signing-secret"  # as tests/delivery/test_crash.py's environment sets it
TYPISTS = 40  # people who type `meld på` during the fan-out, half before the kill, half after


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """One `baerekraft-bot run --no-console` with its own port and PostgreSQL application name."""

    def __init__(self, name: str, db_url: str, slack: FakeSlackAPI, tmp_path: Path) -> None:
        self.name, self.db_url, self.slack, self.tmp_path = name, db_url, slack, tmp_path
        self.port = _free_port()
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        separator = "&" if "?" in self.db_url else "?"
        env = _env(f"{self.db_url}{separator}application_name=chaos-{self.name}", self.slack)
        env.update(PORT=str(self.port), HOST="127.0.0.1")
        self.process = start_bot(self.tmp_path, env, self.tmp_path / f"bot-{self.name}.log")
        _wait(self._answers, 60, f"service {self.name} to answer")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def _type_commands(services: list[Service], slack: FakeSlackAPI, users: range, acked: list[str]) -> None:
    """`/baerekraft meld på` from each user in turn, to the services by turn, 20 ms apart; a
    command that got Slack's 200 counts as acknowledged (a dead service's does not)."""
    for number in users:
        user = f"U9{number:05d}"
        service = services[number % len(services)]
        platform = SlackPlatform(f"{service.url}/slack/events", slack, secret=SIGNING_SECRET)
        try:
            answer, _ = platform.command("meld på", user)
            if answer.status_code == 200:
                acked.append(user)
        except httpx.HTTPError:
            pass  # the service is down: Slack shows the user an error, nothing was acknowledged
        finally:
            platform.close()
        time.sleep(0.02)


def _cut_connections(db_url: str, service: Service) -> int:
    """Terminate every database connection of `service` (as a failover or a network cut does)."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": f"chaos-{service.name}"},
                ).all()
            )
    finally:
        engine.dispose()


def _subscribed(db_url: str, users: list[str]) -> set[str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return set(
                conn.scalars(
                    select(Identity.external_id)
                    .join(Subscription, Subscription.person_id == Identity.person_id)
                    .where(Identity.external_id.in_(users), Subscription.active.is_(True))
                )
            )
    finally:
        engine.dispose()


def _inbox_done(db_url: str) -> bool:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            waiting = conn.scalar(
                select(func.count()).select_from(InboundRequest).where(InboundRequest.state != "done")
            )
    finally:
        engine.dispose()
    return waiting == 0


def test_kill_9_and_a_database_cut_under_faults_lose_nothing_and_repeat_one_message_at_most(
    db_url: str,
    fake: FakeSlackAPI,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite supports one running process (documented); this runs on PostgreSQL")
    for number in range(TYPISTS):
        fake.add_user(f"U9{number:05d}", f"Skriver {number}", email=f"skriver{number}@kommune.no")
    _fanout_ahead(db_url, fake, tmp_path, "Kaos")
    fake.fail("chat.postMessage", Fault(delay=11), times=2)  # two timeouts (10 s); Slack posts later
    fake.flaky("chat.postMessage", 0.2)  # 429, 500 before acting, 500 after the post was made

    a, b = Service("a", db_url, fake, tmp_path), Service("b", db_url, fake, tmp_path)
    acked: list[str] = []
    try:
        a.start()
        b.start()
        typing = threading.Thread(target=_type_commands, args=([a, b], fake, range(TYPISTS // 2), acked))
        typing.start()
        _wait(lambda: sum(_keys(fake).values()) >= 250, 90, "250 messages before the kill")
        a.kill()
        sent_at_kill = sum(_keys(fake).values())
        cut = _cut_connections(db_url, b)
        typing.join(30)
        later = range(TYPISTS // 2, TYPISTS)
        _type_commands([b], fake, later, acked)  # while a is down: b alone
        a.start()
        _wait(lambda: len(_keys(fake)) >= RECIPIENTS + 1, 180, "every recipient")
        _wait(lambda: _all_finished(db_url), 60, "every delivery finished")
        _wait(lambda: _inbox_done(db_url), 30, "every acknowledged command carried out")
    finally:
        codes = [a.stop(), b.stop()]

    assert sent_at_kill < RECIPIENTS, "the fan-out finished before the kill: nothing was tested"
    assert cut > 0, "service b had no database connection to cut"
    faults = [call for call in fake.calls("chat.postMessage") if call.status != 200]
    assert len(faults) >= 100, "the faults were not injected"
    keys = _keys(fake)
    assert len(keys) == RECIPIENTS + 1  # every DM and the channel post: nothing lost
    duplicates = {key: n for key, n in keys.items() if n > 1}
    assert len(duplicates) <= 1 and all(n == 2 for n in duplicates.values()), duplicates
    engine = make_engine(db_url)
    with engine.connect() as conn:
        states = Counter(conn.scalars(select(Delivery.state).where(Delivery.channel == "slack")))
    engine.dispose()
    assert states == {"sent": RECIPIENTS + 1}
    assert len(acked) >= TYPISTS // 2, "too few commands were acknowledged to tell anything"
    assert _subscribed(db_url, acked) == set(acked)  # every acknowledged command carried out
    assert codes == [0, 0]
    print(
        f"\nsent at kill {sent_at_kill}, faults {len(faults)}, connections cut {cut}, "
        f"commands acknowledged {len(acked)}/{TYPISTS}, duplicates {len(duplicates)}"
    )
