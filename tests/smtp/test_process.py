"""The real thing: `baerekraft-bot run` as a separate process. With SMTP_* pointing at a relay the
test starts (STARTTLS, a login, the test CA through SSL_CERT_FILE), the invitation arrives as MIME with
a parseable meeting request and one-click unsubscribe; in console mode with no transport it is written
as an `.eml` file. Both say, at start and on /healthz, whom no channel reaches."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import httpx
import pytest
from icalendar import Calendar

from bot.clock import ManualClock
from bot.commands import Actor
from bot.entry.composition import build
from bot.entry.settings import BotSettings
from bot.parser import parse
from tests.conftest import ORGANISER, person
from tests.fakes.https_fake import local_ca
from tests.microsoft365.support import free_port, wait_for
from tests.processes import start_bot
from tests.smtp.fake_relay import fake_relay

pytestmark = pytest.mark.slow  # starts real processes

SECRET_KEY = "smtp-process-test-secret-key"
HEALTH_TOKEN = "smtp-process-health-token"
KARI = person("kari@kommune.no")
SLACK_ONLY = Actor("slack", "U0SLACK1", name="Sol")


def prepare(settings: BotSettings) -> None:
    """Two subscribers (one only on Slack, which is not set up) and a session in five days."""
    app = build(settings, clock=ManualClock(datetime.now(UTC)), migrate=False)  # the process's time
    try:
        for actor in (KARI, SLACK_ONLY):
            app.dispatcher.execute(actor, parse("meld på"))
        start = (app.clock.now() + timedelta(days=5)).astimezone(app.settings.tz)
        line = f"ny økt {start:%Y-%m-%d} 09:00 Sirkulær økonomi; lenke=https://teams.example/m/1"
        app.dispatcher.execute(ORGANISER, parse(line))
    finally:
        app.close()


def environment(db_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_", "SMTP_"))}
    env.update(
        DATABASE_URL=db_url,
        SECRET_KEY=SECRET_KEY,
        HEALTH_TOKEN=HEALTH_TOKEN,
        LOG_LEVEL="INFO",
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        WORKER_PROCESS="false",
        **extra,
    )
    return env


def health(port: int) -> dict[str, object]:
    try:
        answer = httpx.get(
            f"http://127.0.0.1:{port}/healthz", headers={"authorization": f"Bearer {HEALTH_TOKEN}"}
        )
    except httpx.HTTPError:
        return {}
    return dict(answer.json()) if answer.status_code == 200 else {}


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_a_service_with_smtp_mails_the_invitation_as_a_meeting_request(
    settings: BotSettings, db_url: str, tmp_path: Path
) -> None:
    prepare(settings)
    port = free_port()
    with fake_relay(starttls=True, users={"baerekraft": "relay-password"}) as relay:
        env = environment(
            db_url,
            port,
            SMTP_HOST=relay.host,
            SMTP_PORT=str(relay.port),
            SMTP_FROM="baerekraft@ks.example.org",
            SMTP_USERNAME="baerekraft",
            SMTP_PASSWORD="relay-password",
            SSL_CERT_FILE=str(local_ca().bundle),
        )
        log_path = tmp_path / "bot.log"
        proc = start_bot(tmp_path, env, log_path)
        try:
            assert wait_for(lambda: relay.received, timeout=30), log_path.read_text()
            report = wait_for(lambda: health(port), timeout=10)
        finally:
            stop(proc)
        [received] = relay.received
        assert received.tls and received.login == "baerekraft" and received.rcpt_tos == ("kari@kommune.no",)
        mail = received.message()
        assert mail["List-Unsubscribe"].startswith(f"<http://127.0.0.1:{port}/u/")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        [part] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
        raw = part.get_payload(decode=True)
        assert isinstance(raw, bytes)
        calendar = Calendar.from_ical(raw)
        assert str(calendar.get("METHOD")) == "REQUEST"
        assert report["channels"] == {"slack": "off", "microsoft365": "off", "smtp": "on", "web": "on"}
        assert report["unreached_subscribers"] == {"baerekraftsfredag": 1}  # the Slack-only one
    log = log_path.read_text()
    assert "SMTP: on (mail from <address> through" in log  # addresses are masked in every line
    assert "series baerekraftsfredag: 1 subscriber no configured channel reaches" in log
    assert "relay-password" not in log


def test_console_mode_without_a_transport_writes_the_invitation_as_an_eml_file(
    settings: BotSettings, db_url: str, tmp_path: Path
) -> None:
    prepare(settings)
    port = free_port()
    out_path = tmp_path / "console.out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],  # no chat credentials: console mode
        cwd=tmp_path,
        env=environment(db_url, port),
        stdin=subprocess.PIPE,
        stdout=out_path.open("w"),
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        found = wait_for(lambda: sorted((tmp_path / "mail").glob("*.eml")), timeout=30)
        assert found, out_path.read_text()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # end of input ends console mode
        try:
            proc.wait(20)
        finally:
            stop(proc)
    [path] = found
    mail = cast(EmailMessage, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    assert mail["To"] == "kari@kommune.no"
    assert any(p.get_content_type() == "text/calendar" for p in mail.walk())
    out = out_path.read_text()
    assert str((tmp_path / "mail").resolve()) in out and str(path) in out
