"""TLS and login with a real SMTP server: STARTTLS and TLS from the first byte, trusted through a test
CA named by SSL_CERT_FILE (as a company CA is), AUTH only over TLS; a refused login or an untrusted
certificate pauses the mail (held, organisers told once) until a probe gets through."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.delivery import kinds
from bot.delivery.channels import CREDENTIALS, OutgoingMessage
from bot.delivery.messages import render
from bot.entry.composition import make_renderer
from bot.mail import MailFailed, MailMessage
from bot.models import Delivery
from handlers.smtp.mailer import SmtpMailer
from tests.conftest import person
from tests.delivery.helpers import simulate
from tests.delivery.test_messages import SERIES
from tests.fakes.https_fake import local_ca
from tests.smtp.fake_relay import fake_relay
from tests.smtp.support import SENDER, smtp_bot

KARI = person("kari@kommune.no")


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(local_ca().bundle))


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("mode", ["starttls", "implicit_tls"])
def test_mail_goes_over_verified_tls_with_a_login(db_url: str, mode: str) -> None:
    with (
        fake_relay(**{mode: True}, users={"bot": "s3cret-pass"}) as relay,
        smtp_bot(db_url, relay, username="bot", password="s3cret-pass") as bot,
    ):
        bot.say(KARI, "meld på")
        bot.plan(5)
        simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=1))
        [received] = relay.received
        assert received.tls and received.login == "bot" and received.rcpt_tos == ("kari@kommune.no",)
        assert relay.logins_refused == 0


def test_a_relay_demanding_starttls_is_refused_in_the_clear_and_nothing_is_sent(db_url: str) -> None:
    """The bot set to STARTTLS against a relay that offers none: paused, never sent in the clear."""
    with fake_relay() as relay, smtp_bot(db_url, relay, starttls=True) as bot:
        bot.say(KARI, "meld på")
        bot.plan(5)
        simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=1))
        assert relay.received == []
        [hold] = bot.app.delivery.paused()
        assert hold.channel == "smtp" and hold.problem == CREDENTIALS and "STARTTLS" in hold.reason


def test_an_untrusted_certificate_pauses_the_mail(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # the test CA is not trusted
    with fake_relay(starttls=True) as relay, smtp_bot(db_url, relay) as bot:
        bot.say(KARI, "meld på")
        bot.plan(5)
        simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=1))
        assert relay.received == []
        [hold] = bot.app.delivery.paused()
        assert "certificate" in hold.reason


@pytest.mark.usefixtures("trusted")
def test_a_refused_login_pauses_the_mail_until_the_relay_takes_it_again(db_url: str) -> None:
    with (
        fake_relay(starttls=True, users={"bot": "the-new-password"}) as relay,
        smtp_bot(db_url, relay, username="bot", password="the-old-password") as bot,
    ):
        bot.say(KARI, "meld på")
        bot.say(person("per@kommune.no"), "meld på")
        bot.plan(5)
        simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=30))
        # A refused login paused the channel; the held mail is probed now and then, one at a time.
        assert relay.received == [] and relay.logins_refused > 0
        [hold] = bot.app.delivery.paused()
        assert hold.problem == CREDENTIALS and "535" in hold.reason
        with bot.app.db.read() as s:
            rows = s.scalars(select(Delivery)).all()
            assert {r.state for r in rows} == {"pending"}
        relay.users["bot"] = "the-old-password"  # the relay's account is put right
        simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=15))
        assert sorted(r.rcpt_tos[0] for r in relay.received) == ["kari@kommune.no", "per@kommune.no"]
        assert bot.app.delivery.paused() == []


@pytest.mark.usefixtures("trusted")
def test_the_web_confirmation_mails_go_through_the_relay(db_url: str) -> None:
    with fake_relay(starttls=True) as relay, smtp_bot(db_url, relay) as bot:
        assert isinstance(bot.app.mailer, SmtpMailer)
        headers = {"List-Unsubscribe": "<https://baerekraft.example.org/u/x>"}
        bot.app.mailer.send(MailMessage("kari@kommune.no", "Bekreft", "Klikk her", "<p>Klikk</p>", headers))
        [mail] = relay.messages()
        assert mail["From"] == SENDER and mail["Subject"] == "Bekreft"
        relay.refuse_rcpt["per@kommune.no"] = "550 5.1.1 No such user"
        with pytest.raises(MailFailed, match="550"):
            bot.app.mailer.send(MailMessage("per@kommune.no", "Bekreft", "Klikk her"))


@pytest.mark.parametrize("language", ["nb", "en", "da", "nn"])
@pytest.mark.parametrize(
    ("problem", "advice"), [("credentials", "SMTP_PASSWORD"), ("permission", "SMTP_FROM")]
)
def test_the_organisers_notice_of_a_pause_gives_the_relays_advice_not_exchanges(
    language: str, problem: str, advice: str
) -> None:
    payload = {"channel": "smtp", "problem": problem, "reason": "535 5.7.8", "target": None}
    payload["since"] = "2026-03-06T08:00:00+00:00"
    message = OutgoingMessage(
        1, "k", kinds.CHANNEL_DOWN, "console", "console", language, SERIES, None, None, payload
    )
    rendered = render(make_renderer(), message)
    assert advice in rendered.body and "Entra" not in rendered.body and "535 5.7.8" in rendered.body
    assert "smtp" not in rendered.subject  # named as mail in the reader's language
