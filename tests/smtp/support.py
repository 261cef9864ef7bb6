"""The bot with the SMTP channel against a fake relay, driven in simulated time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.entry.composition import App, build
from bot.entry.runtime import attach_senders
from bot.entry.settings import BotSettings
from bot.models import Session as SessionRow
from bot.parser import parse
from handlers.smtp.settings import SmtpSettings
from tests.conftest import NOW, ORGANISER
from tests.smtp.fake_relay import FakeRelay

PUBLIC = "https://baerekraft.example.org"
SENDER = "baerekraft@ks.example.org"


@dataclass
class SmtpBot:
    app: App
    clock: ManualClock
    relay: FakeRelay

    def say(self, actor: Actor, line: str) -> str:
        return self.app.renderer.reply(self.app.dispatcher.execute(actor, parse(line)))

    def plan(self, days: float, title: str = "Sirkulær økonomi", extra: str = "") -> int:
        """A session at 09:00 local `days` from now, planned by the organiser; its id."""
        start = (self.clock.now() + timedelta(days=days)).astimezone(self.app.settings.tz)
        reply = self.say(ORGANISER, f"ny økt {start:%Y-%m-%d} 09:00 {title}{extra}")
        with self.app.db.read() as s:
            found = s.scalar(select(func.max(SessionRow.id)))
        assert found is not None, reply
        return int(found)


def smtp_settings(relay: FakeRelay, **options: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": relay.host,
        "port": relay.port,
        "sender": SENDER,
        "starttls": relay.starttls,
        "tls": relay.implicit_tls,
        "timeout": 5.0,
    }
    values.update(options)
    return SmtpSettings(**values)  # type: ignore[arg-type]


@contextmanager
def smtp_bot(db_url: str, relay: FakeRelay, **options: object) -> Iterator[SmtpBot]:
    settings = BotSettings(
        database_url=db_url,
        secret_key="test-secret-key-0123456789",
        secret_key_is_temporary=False,
        public_base_url=PUBLIC,
        smtp=smtp_settings(relay, **options),
    )
    clock = ManualClock(NOW)
    app = build(settings, clock=clock, migrate=False)
    attach_senders(app)
    try:
        yield SmtpBot(app, clock, relay)
    finally:
        app.close()
