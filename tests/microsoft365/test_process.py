"""The real thing: `baerekraft-bot run --no-console` as a separate process, pointed at the HTTPS fakes
through MS_AUTHORITY_HOST, GRAPH_API_URL and the CA-bundle variables; logged in and given subscribers
by the CLI; what reaches the fake Graph is counted and read."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.clock import ManualClock
from bot.db import make_engine
from bot.entry.composition import build
from bot.entry.settings import load_settings
from bot.models import InboundRequest, Series, Subscription
from bot.parser import parse
from tests.conftest import ORGANISER, person
from tests.fakes.https_fake import local_ca
from tests.fakes.tls_proxy import TlsProxy
from tests.microsoft365.fakes.graph_api import CHANNEL_ID, TEAM_ID
from tests.microsoft365.fakes.graph_api import ORGANISER as MAILBOX
from tests.microsoft365.fakes.identity_provider import CLIENT_ID, CLIENT_SECRET, TENANT
from tests.microsoft365.support import BOT_ID, KARI, Fakes, free_port, running_fakes, wait_for
from tests.processes import start_bot

pytestmark = pytest.mark.slow  # starts real processes

SECRET_KEY = "graph-process-test-secret-key"
HEALTH_TOKEN = "graph-process-health-token"


def environment(db_url: str, fakes: Fakes, port: int, public: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_"))}
    env.update(
        local_ca().environ(),
        DATABASE_URL=db_url,
        SECRET_KEY=SECRET_KEY,
        HEALTH_TOKEN=HEALTH_TOKEN,
        LOG_LEVEL="INFO",
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_BASE_URL=public or f"http://127.0.0.1:{port}",
        MS_TENANT_ID=TENANT,
        MS_CLIENT_ID=CLIENT_ID,
        MS_CLIENT_SECRET=CLIENT_SECRET,
        MS_ORGANISER=MAILBOX,
        MS_AUTHORITY_HOST=fakes.idp.url,
        GRAPH_API_URL=fakes.graph.base,
        TEAMS_TEAM_ID=TEAM_ID,
        TEAMS_CHANNEL_ID=CHANNEL_ID,
        TEAMS_POLL_INTERVAL="1",
        CALENDAR_SYNC_INTERVAL="1",
        MAIL_RATE_PER_MINUTE="6000",
    )
    return env


def unfinished_requests(db_url: str) -> int:
    """Inbound requests not yet carried out, read as another process would."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(InboundRequest)
                    .where(InboundRequest.state.in_(("new", "working", "executed")))
                )
                or 0
            )
    finally:
        engine.dispose()


def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def prepare(env: dict[str, str], start: datetime) -> None:
    """A session starting at `start` whose invitation went out ten minutes ago (a bot that was
    running then), with one reminder 45 minutes before the start: due five minutes ago, not sent.
    The imported subscribers are dated back a day (a reminder skips people who joined within its offset)."""
    now = datetime.now(UTC)
    settings = load_settings(env, dotenv_path=None)
    app = build(settings, clock=ManualClock(now - timedelta(minutes=10)), migrate=False)
    try:
        with app.db.transaction() as s:
            series = s.scalar(select(Series).where(Series.slug == "baerekraftsfredag"))
            assert series is not None
            series.reminder_offsets = "45m"
            s.execute(update(Subscription).values(consented_at=now - timedelta(days=1)))
        local = start.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
        app.dispatcher.execute(ORGANISER, parse(f"ny økt {local} Sirkulær økonomi"))
        app.delivery.plan()
    finally:
        app.close()


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    with running_fakes(monkeypatch) as running:
        running.idp.auto_approve = BOT_ID
        yield running


def test_the_running_bot_invites_reminds_posts_and_takes_commands_from_teams(
    fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    proxy = TlsProxy(port).start()  # Graph sends notifications only to https, as a reverse proxy serves
    env = environment(db_url, fakes, port, proxy.url)
    assert "Logged in as baerekraft-bot@ks.example" in cli(env, tmp_path, "teams", "login")
    people = tmp_path / "people.csv"
    with people.open("w", newline="") as out:
        csv.writer(out).writerows(
            [
                ["email", "name", "language"],
                ["kari@kommune.no", "Kari", "nb"],
                ["john@example.org", "John", "en"],
            ]
        )
    cli(env, tmp_path, "subscribers", "import", str(people))
    start = (datetime.now(UTC) + timedelta(minutes=42)).replace(second=0, microsecond=0)
    prepare(env, start)

    log_path = tmp_path / "bot.log"  # read below; left beside the database when a check fails
    proc = start_bot(tmp_path, env, log_path)
    graph, tenant = fakes.graph, fakes.graph.tenant
    try:
        assert wait_for(lambda: _serving(port), timeout=30), "the bot did not start serving"
        # The meeting, with both subscribers: Exchange invited them.
        assert wait_for(
            lambda: (
                sorted(m.address for m in tenant.mailed("invitation"))
                == ["john@example.org", "kari@kommune.no"]
            ),
            20,
        )
        # The reminder, by mail (MIME, unsubscribe headers, join link) and in the channel.
        assert wait_for(
            lambda: len([m for m in tenant.mails if "X-Baerekraft-Delivery" in m.headers]) == 2, 20
        )
        assert wait_for(lambda: [p.subject for p in tenant.channel_posts(by=BOT_ID)], 20)
        [event] = tenant.live_events()
        for mail in tenant.mails:
            assert (
                mail.route == "mime" and mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            )
            assert event.join_url and event.join_url in (mail.text or "")
        # Commands from Teams: both ways in once the subscriptions exist; carried out once.
        assert wait_for(lambda: len(graph.notifier.subscriptions) == 2, 20)
        asked = _in_channel(fakes, "!baerekraft meld av")
        assert wait_for(lambda: [m for m in tenant.replies(asked) if m.from_id == BOT_ID], 20)
        assert wait_for(lambda: event.attendees == ["john@example.org"], 20)  # Kari taken off the meeting
        # Two more reads of the channel see the message again; then nothing waits in the inbox.
        polls = graph.count("GET", r"/messages/delta")
        assert wait_for(lambda: graph.count("GET", r"/messages/delta") >= polls + 2, 20)
        assert wait_for(lambda: unfinished_requests(db_url) == 0, 20)
        assert len([m for m in tenant.replies(asked) if m.from_id == BOT_ID]) == 1
        assert graph.notifier.delivered and all(d.status == 202 for d in graph.notifier.delivered)
        operator = {"authorization": f"Bearer {HEALTH_TOKEN}"}
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", headers=operator).json()
        assert health["channels"]["microsoft365"] == "on"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        proxy.stop()
    log = log_path.read_text()
    assert proc.returncode == 0, log
    assert "Traceback" not in log
    for secret in fakes.idp.secrets_issued():
        assert secret not in log
    # One meeting in Exchange: the worker process (making it for a message about to go out) and the
    # calendar pass may both POST it, with the same transactionId, which Graph answers with one event.
    assert len(tenant.events) == 1, graph.count("POST", "/events$")
    assert [m.address for m in tenant.mailed("cancellation")] == ["kari@kommune.no"]
    exported = cli(env, tmp_path, "subscribers", "export")
    assert "kari@kommune.no" not in exported and "john@example.org" in exported


def _serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _in_channel(fakes: Fakes, text: str) -> str:
    from tests.microsoft365.fakes.graph_tenant import Message

    tenant = fakes.graph.tenant
    message = Message(
        tenant.next_id(),
        KARI,
        "Kari Nordmann",
        f"<p>{text}</p>",
        datetime.now(UTC),
        tenant.next_seq(),
        channel=(TEAM_ID, CHANNEL_ID),
    )
    tenant.add_message(message)
    fakes.graph.notifier.created(message)
    return message.id


def test_the_worker_process_weighs_the_mail_cap_after_the_fronts_planning(
    fakes: Fakes, db_url: str, tmp_path: Path
) -> None:
    # Two subscribers and two reminders within a day: four recipients, over a cap of three.
    env = environment(db_url, fakes, free_port()) | {"MAIL_DAILY_RECIPIENTS": "3"}
    settings = load_settings(env, dotenv_path=None)
    app = build(settings, migrate=True)
    try:
        for email in ("kari@kommune.no", "john@example.org"):
            app.dispatcher.execute(person(email), parse("meld på"))
        app.dispatcher.execute(ORGANISER, parse("gi arrangør org@kommune.no"))
        start = (datetime.now(UTC) + timedelta(days=20)).astimezone(settings.tz)
        app.dispatcher.execute(ORGANISER, parse(f"ny økt {start:%Y-%m-%d} 10:00 Sirkulær økonomi"))
    finally:
        app.close()
    log_path = tmp_path / "bot.log"
    proc = start_bot(tmp_path, env, log_path)
    try:
        assert wait_for(lambda: fakes.graph.tenant.mails, timeout=30), log_path.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    [mail] = fakes.graph.tenant.mails
    assert mail.to == ["org@kommune.no"] and "går over postkassens dagsgrense" in (mail.subject or "")
    log = log_path.read_text()
    assert proc.returncode == 0 and "Traceback" not in log
    assert "over the cap of 3; organisers told" in log
