"""The development mailbox: console mode without a mail transport writes each mail (the invitation
with its meeting request, reminders, confirmation links) as an `.eml` file to MAIL_DIR, says where,
and writes a mail in doubt once; with a transport configured there is no such folder."""

from __future__ import annotations

import email
import email.policy
import io
import stat
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select, update

from bot.clock import ManualClock
from bot.entry.composition import App, build
from bot.entry.runtime import attach_senders
from bot.entry.settings import BotSettings
from bot.mail import MailMessage
from bot.models import Delivery
from bot.parser import parse
from handlers.console.channel import ConsoleChannel
from handlers.smtp.settings import SmtpSettings
from tests.conftest import NOW, ORGANISER, person
from tests.delivery.helpers import simulate

KARI = person("kari@kommune.no")


@pytest.fixture
def console_app(settings: BotSettings, tmp_path: Path) -> Iterator[tuple[App, io.StringIO, Path]]:
    out, folder = io.StringIO(), tmp_path / "mail"
    local = replace(settings, mail_dir=str(folder), public_base_url="http://localhost:8000")
    bot = build(local, clock=ManualClock(NOW), migrate=False, console=out)
    attach_senders(bot)
    yield bot, out, folder
    bot.close()


def say(app: App, actor: object, line: str) -> str:
    return app.renderer.reply(app.dispatcher.execute(actor, parse(line)))  # type: ignore[arg-type]


def read(path: Path) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))


def test_the_invitation_is_written_as_an_eml_file_and_the_console_says_where(
    console_app: tuple[App, io.StringIO, Path],
) -> None:
    app, out, folder = console_app
    console = app.channel(ConsoleChannel)
    assert console is not None
    console.start()
    assert str(folder.resolve()) in out.getvalue()  # where the mails go, said at start
    say(app, KARI, "meld på")
    start = (NOW + timedelta(days=5)).astimezone(app.settings.tz)
    say(app, ORGANISER, f"ny økt {start:%Y-%m-%d} 09:00 Sirkulær økonomi; lenke=https://teams.example/m/1")
    assert isinstance(app.clock, ManualClock)
    simulate(app, app.clock, NOW + timedelta(minutes=5))
    [path] = sorted(folder.glob("*.eml"))
    assert "kari@kommune.no" in path.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    mail = read(path)
    assert mail["To"] == "kari@kommune.no" and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [ics] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert ics.get_param("method") == "REQUEST"
    assert f"[mail to kari@kommune.no] {mail['Subject']}" in out.getvalue()
    assert str(path) in out.getvalue()
    with app.db.read() as s:
        [row] = s.scalars(select(Delivery).where(Delivery.channel == "email")).all()
    assert row.state == "sent" and row.external_ref == str(path)


def test_a_mail_in_doubt_that_was_written_is_not_written_again(
    console_app: tuple[App, io.StringIO, Path],
) -> None:
    app, _, folder = console_app
    say(app, KARI, "meld på")
    start = (NOW + timedelta(days=5)).astimezone(app.settings.tz)
    say(app, ORGANISER, f"ny økt {start:%Y-%m-%d} 09:00 Sirkulær økonomi")
    assert isinstance(app.clock, ManualClock)
    simulate(app, app.clock, NOW + timedelta(minutes=5))
    # As after a crash between writing the file and recording it: the row back, in doubt.
    with app.db.transaction() as s:
        s.execute(update(Delivery).where(Delivery.channel == "email").values(state="pending", in_doubt=True))
    simulate(app, app.clock, NOW + timedelta(minutes=10))
    assert len(list(folder.glob("*.eml"))) == 1
    with app.db.read() as s:
        assert s.scalars(select(Delivery.state).where(Delivery.channel == "email")).all() == ["sent"]


def test_confirmation_mails_go_to_the_mailbox_too(console_app: tuple[App, io.StringIO, Path]) -> None:
    app, out, folder = console_app
    app.mailer.send(MailMessage("kari@kommune.no", "Bekreft påmeldingen", "https://x.example/c/abc"))
    [path] = folder.glob("*.eml")
    assert read(path)["Subject"] == "Bekreft påmeldingen"
    assert str(path) in out.getvalue()


def test_with_a_mail_transport_the_console_keeps_no_mailbox(settings: BotSettings, tmp_path: Path) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=1, sender="bot@ks.example.org", starttls=False)
    configured = replace(settings, smtp=smtp, mail_dir=str(tmp_path / "mail"))
    bot = build(configured, clock=ManualClock(NOW), migrate=False, console=io.StringIO())
    try:
        console = bot.channel(ConsoleChannel)
        assert console is not None and console.mailbox is None
        assert [s.channel for s in console.senders()] == ["console"]
    finally:
        bot.close()
