"""Nobody left unreached in silence: subscribers that no configured channel reaches are counted on
/healthz (degraded), in `antall`, `series show` and `send --dry-run`, and logged once at start."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.clock import ManualClock
from bot.commands import Actor
from bot.delivery import reach
from bot.entry.cli import app as cli
from bot.entry.composition import App, build
from bot.entry.runtime import log_unreached
from bot.entry.settings import BotSettings
from bot.parser import parse
from handlers.smtp.settings import SmtpSettings
from tests.conftest import NOW, ORGANISER, person
from tests.web.support import open_web

KARI = person("kari@kommune.no")  # an address, and a console account
SLACK_ONLY = Actor("slack", "U0SLACK1", name="Sol")  # only a Slack account (Slack is not set up)
TOKEN = "health-token-0123456789"
SMTP = SmtpSettings(host="127.0.0.1", port=1, sender="bot@ks.example.org", starttls=False)


def say(app: App, actor: Actor, line: str) -> str:
    return app.renderer.reply(app.dispatcher.execute(actor, parse(line)))


@pytest.fixture
def with_smtp(settings: BotSettings) -> Iterator[App]:
    bot = build(replace(settings, smtp=SMTP), clock=ManualClock(NOW), migrate=False)
    yield bot
    bot.close()


def test_mail_reaches_those_with_an_address_and_nothing_reaches_a_slack_user_without_slack(
    with_smtp: App,
) -> None:
    say(with_smtp, KARI, "meld på")
    say(with_smtp, SLACK_ONLY, "meld på")
    assert with_smtp.unreached() == {"baerekraftsfredag": 1}
    # The organisers hear it with the count.
    reply = say(with_smtp, ORGANISER, "antall")
    assert "2 påmeldte" in reply and "1 av dem når boten ikke" in reply
    english = say(with_smtp, replace(ORGANISER, language="en"), "count")
    assert "1 of them is beyond every channel" in english
    danish = say(with_smtp, replace(ORGANISER, language="da"), "antal")
    assert "1 af dem kan botten ikke nå" in danish
    nynorsk = say(with_smtp, replace(ORGANISER, language="nn"), "antall")
    assert "1 av dei når ikkje boten" in nynorsk


def test_all_reached_means_nothing_said(with_smtp: App) -> None:
    say(with_smtp, KARI, "meld på")
    assert with_smtp.unreached() == {}
    assert "av dem" not in say(with_smtp, ORGANISER, "antall")


def test_the_console_and_its_mailbox_reach_console_users_and_addresses(
    settings: BotSettings, tmp_path: Path
) -> None:
    local = replace(settings, mail_dir=str(tmp_path / "mail"))
    bot = build(local, clock=ManualClock(NOW), migrate=False, console=io.StringIO())
    try:
        say(bot, KARI, "meld på")
        say(bot, SLACK_ONLY, "meld på")
        assert bot.unreached() == {"baerekraftsfredag": 1}
    finally:
        bot.close()


def test_healthz_counts_them_for_operators_and_says_degraded(
    settings: BotSettings, clock: ManualClock
) -> None:
    with open_web(replace(settings, health_token=TOKEN), clock) as web:
        say(web.app, KARI, "meld på")  # no channel here reaches anyone: the web only mails confirmations
        report = web.client.get("/healthz", headers={"authorization": f"Bearer {TOKEN}"})
        assert report.status_code == 200
        body = report.json()
        assert body["status"] == "degraded" and body["unreached_subscribers"] == {"baerekraftsfredag": 1}
        assert web.client.get("/healthz").json() == {"status": "ok"}  # nothing to learn for anyone else


def test_healthz_answers_from_the_count_the_worker_stored_while_the_subscribers_are_the_same(
    settings: BotSettings, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker counts at its start (`log_unreached`) and keeps the count in the database; the
    front's /healthz reads it instead of every subscriber, and counts again once they changed."""
    operator = {"authorization": f"Bearer {TOKEN}"}
    with open_web(replace(settings, health_token=TOKEN), clock) as front, open_web(settings, clock) as worker:
        say(front.app, KARI, "meld på")
        log_unreached(worker.app)  # another process, the same database
        read_every_subscriber = reach.subscribers

        def refused(*args: object) -> object:
            raise AssertionError("/healthz read every subscriber again")

        monkeypatch.setattr(reach, "subscribers", refused)
        body = front.client.get("/healthz", headers=operator).json()
        assert body["status"] == "degraded" and body["unreached_subscribers"] == {"baerekraftsfredag": 1}
        monkeypatch.setattr(reach, "subscribers", read_every_subscriber)
        say(front.app, person("ola@kommune.no"), "meld på")  # the count no longer holds
        body = front.client.get("/healthz", headers=operator).json()
        assert body["unreached_subscribers"] == {"baerekraftsfredag": 2}
        say(front.app, KARI, "meld av")
        say(front.app, person("ola@kommune.no"), "meld av")
        body = front.client.get("/healthz", headers=operator).json()
        assert body["status"] == "ok" and "unreached_subscribers" not in body


def test_a_count_made_for_other_channels_is_not_taken(with_smtp: App, settings: BotSettings) -> None:
    say(with_smtp, KARI, "meld på")
    assert with_smtp.unreached() == {}  # mail reaches her
    without_mail = build(settings, clock=ManualClock(NOW), migrate=False)
    try:
        assert without_mail.unreached() == {"baerekraftsfredag": 1}
        assert with_smtp.unreached() == {}
    finally:
        without_mail.close()


def test_run_logs_them_once_at_start(with_smtp: App, caplog: pytest.LogCaptureFixture) -> None:
    say(with_smtp, SLACK_ONLY, "meld på")
    with caplog.at_level(logging.WARNING):
        log_unreached(with_smtp)
    [line] = [r.getMessage() for r in caplog.records if "no configured channel reaches" in r.getMessage()]
    assert line.startswith("series baerekraftsfredag: 1 subscriber no configured channel reaches")


def test_series_show_and_send_dry_run_say_how_many(
    app: App, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    say(app, KARI, "meld på")
    say(app, SLACK_ONLY, "meld på")
    start = (NOW + timedelta(days=3)).astimezone(app.settings.tz)
    say(app, ORGANISER, f"ny økt {start:%Y-%m-%d} 09:00 Sirkulær økonomi")
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key-0123456789", "LOG_LEVEL": "WARNING"}
    env.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "1", "SMTP_FROM": "bot@ks.example.org"})
    env["SMTP_STARTTLS"] = "false"
    shown = CliRunner().invoke(cli, ["series", "show", "baerekraftsfredag"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "unreached: 1" in shown.output.splitlines()
    dry = CliRunner().invoke(cli, ["send", "1", "reminder", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    flat = " ".join(dry.output.split())
    assert "1 subscriber of Bærekraftsfredag no configured channel reaches" in flat
    assert "Nothing was sent" in flat
