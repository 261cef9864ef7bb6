"""Bounces in an SMTP set-up: the envelope sender is BOUNCE_ADDRESS, the relay's reports land in a
bounce mailbox that the bot reads over IMAP (a real IMAP server over TLS), and the third hard
bounce in 30 days stops mail to that person, who then gets no mail while the others do."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.models import MailBounce, Person
from handlers.smtp.bounces import ImapBounces
from handlers.smtp.settings import ImapSettings
from jobs.bounces import poll_bounces
from tests.conftest import ORGANISER, person
from tests.delivery.helpers import simulate
from tests.fakes.bounce_mail import relay_dsn
from tests.fakes.https_fake import local_ca
from tests.smtp.fake_relay import FakeRelay, fake_relay
from tests.smtp.fakes.imap_server import FakeImap
from tests.smtp.support import SENDER, SmtpBot, smtp_bot

KARI, OLA = person("kari@kommune.no", name="Kari"), person("ola@gammel-kommune.no", name="Ola")
BOUNCES = "bounces@ks.example.org"


@pytest.fixture
def relay() -> Iterator[FakeRelay]:
    with fake_relay() as server:
        yield server


@pytest.fixture
def imap(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeImap]:
    monkeypatch.setenv("SSL_CERT_FILE", str(local_ca().bundle))
    server = FakeImap().start()
    yield server
    server.stop()


def imap_settings(server: FakeImap, **options: object) -> ImapSettings:
    values: dict[str, object] = {
        "host": "localhost",  # the test CA's certificate names localhost and 127.0.0.1
        "port": server.port,
        "username": server.username,
        "password": server.password,
        "timeout": 5.0,
    }
    values.update(options)
    return ImapSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def bot(db_url: str, relay: FakeRelay, imap: FakeImap) -> Iterator[SmtpBot]:
    with smtp_bot(db_url, relay, bounce_address=BOUNCES, bounce_imap=imap_settings(imap)) as running:
        yield running


def return_to_sender(relay: FakeRelay, imap: FakeImap, bot: SmtpBot, address: str) -> int:
    """What a relay does with mail to an address that does not exist: a report to the envelope
    sender, which arrives in the bounce mailbox. Returns how many it sent."""
    sent = 0
    for received in list(relay.received):
        if received.rcpt_tos == (address,) and received.mail_from == BOUNCES:
            relay.received.remove(received)
            when = bot.clock.now()
            imap.deliver(relay_dsn(received.data, address, sender=BOUNCES, when=when, relay="relay.example"))
            sent += 1
    return sent


def suspended(bot: SmtpBot, address: str) -> bool:
    with bot.app.db.read() as s:
        found = s.scalar(select(Person).where(Person.email == address))
        assert found is not None
        return found.mail_suspended_at is not None


def test_three_returned_invitations_stop_mail_to_that_address(
    bot: SmtpBot, relay: FakeRelay, imap: FakeImap
) -> None:
    channel = next(c for c in bot.app.channels if c.bounce_source() is not None)
    source = channel.bounce_source()
    assert isinstance(source, ImapBounces)
    bot.say(ORGANISER, "meld på")
    assert "org@kommune.no" in bot.say(ORGANISER, "gi arrangør org@kommune.no")
    bot.say(KARI, "meld på")
    bot.say(OLA, "meld på")
    for week in range(3):
        bot.plan(3, f"Økt {week}")
        simulate(bot.app, bot.clock, bot.clock.now() + timedelta(hours=1))
        assert {r.mail_from for r in relay.received} == {BOUNCES}  # every mail: bounces go there
        assert {r.message()["From"] for r in relay.received} == {SENDER}
        assert not suspended(bot, "ola@gammel-kommune.no")
        assert return_to_sender(relay, imap, bot, "ola@gammel-kommune.no") == 1
        assert poll_bounces(bot.app, [source]) == 1
        assert imap.messages() == []  # read, flagged \Deleted, expunged
        bot.clock.advance(timedelta(days=7))
    assert suspended(bot, "ola@gammel-kommune.no")
    assert not suspended(bot, "kari@kommune.no")
    # The organiser is told, by mail, who and why.
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=5))
    [notice] = [
        r.message()
        for r in relay.received
        if r.rcpt_tos == ("org@kommune.no",) and "Ola" in r.message()["Subject"]
    ]
    assert "ola@gammel-kommune.no" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "5.1.1" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # The next session's invitation reaches everyone else, and Ola through no mail.
    relay.received.clear()
    bot.plan(3, "Neste")
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(hours=1))
    assert {r.rcpt_tos[0] for r in relay.received} == {"org@kommune.no", "kari@kommune.no"}
    assert "E-post: stanset" in bot.say(OLA, "mine data")


def test_a_mailbox_that_cannot_be_read_is_logged_without_its_password_and_read_next_time(
    bot: SmtpBot, relay: FakeRelay, imap: FakeImap, caplog: pytest.LogCaptureFixture
) -> None:
    source = ImapBounces(imap_settings(imap))
    bot.say(OLA, "meld på")
    imap.deliver(
        relay_dsn(
            b"Message-ID: <x@y>\r\n\r\n",
            "ola@gammel-kommune.no",
            sender=BOUNCES,
            when=bot.clock.now(),
            relay="r.example",
        )
    )
    imap.fail_logins = 1
    with caplog.at_level(logging.WARNING):
        assert poll_bounces(bot.app, [source]) == 0
    assert "AUTHENTICATIONFAILED" in caplog.text
    assert imap.password not in caplog.text and "pa ss" not in caplog.text
    assert len(imap.messages()) == 1  # still there
    assert poll_bounces(bot.app, [source]) == 1
    assert imap.messages() == []
    # A server that is gone: logged, nothing lost.
    imap.deliver(
        relay_dsn(
            b"Message-ID: <z@y>\r\n\r\n",
            "ola@gammel-kommune.no",
            sender=BOUNCES,
            when=bot.clock.now(),
            relay="r.example",
        )
    )
    imap.stop()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert poll_bounces(bot.app, [source]) == 0
    assert "cannot read IMAP localhost" in caplog.text
    with bot.app.db.read() as s:
        assert len(list(s.scalars(select(MailBounce)))) == 1


def test_a_report_read_again_after_a_crash_counts_once(bot: SmtpBot, imap: FakeImap) -> None:
    bot.say(OLA, "meld på")
    report = relay_dsn(
        b"Message-ID: <x@y>\r\n\r\n",
        "ola@gammel-kommune.no",
        sender=BOUNCES,
        when=bot.clock.now(),
        relay="r.example",
    )
    imap.deliver(report)
    imap.deliver(report)  # as if the first had been recorded but not deleted before a crash
    source = ImapBounces(imap_settings(imap))
    assert poll_bounces(bot.app, [source]) == 1
    assert imap.messages() == []


def test_the_fake_server_is_strict(imap: FakeImap) -> None:
    """What a client may not do, answered as RFC 3501 says (imaplib would refuse some itself)."""
    raw = socket.create_connection(("127.0.0.1", imap.port), timeout=5)
    with ssl.create_default_context().wrap_socket(raw, server_hostname="localhost") as conn:
        lines = conn.makefile("rb")

        def ask(line: str) -> bytes:
            conn.sendall(line.encode() + b"\r\n")
            tag = line.split()[0].encode()
            while True:
                answer = lines.readline()
                if answer.startswith(tag + b" "):
                    return answer.rstrip()

        assert lines.readline().startswith(b"* OK")
        assert ask("a1 SELECT INBOX").startswith(b"a1 BAD")
        assert ask('a2 LOGIN bounces@ks.example.org "wrong"').startswith(b"a2 NO [AUTHENTICATIONFAILED]")
        quoted = imap.password.replace("\\", "\\\\").replace('"', '\\"')
        assert ask(f'a3 LOGIN bounces@ks.example.org "{quoted}"').startswith(b"a3 OK")
        assert ask("a4 UID SEARCH ALL").startswith(b"a4 BAD")
        assert ask('a5 SELECT "Nope"').startswith(b"a5 NO [NONEXISTENT]")
        assert ask("a6 SELECT INBOX").startswith(b"a6 OK [READ-WRITE]")
        assert ask("a7 UID FETCH 1:* (ENVELOPE)").startswith(b"a7 BAD")
        assert ask("a8 FROB").startswith(b"a8 BAD")
        assert ask("a9 LOGOUT").startswith(b"a9 OK")
    assert "LOGIN ***" in imap.commands and not any(imap.password in c for c in imap.commands)
