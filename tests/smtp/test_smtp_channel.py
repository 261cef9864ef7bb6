"""The SMTP channel against a real SMTP server: the invitation as a meeting request, changes and
cancellations as updates of it, reminders, the MIME every mail carries, and the exactly-once rules
through 4xx, 5xx, a refused login and an answer lost after the message."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.commands import Actor
from bot.models import Delivery
from tests.conftest import ORGANISER, person
from tests.delivery.helpers import simulate
from tests.smtp.fake_relay import FakeRelay, fake_relay
from tests.smtp.support import SENDER, SmtpBot, smtp_bot

KARI, JOHN = person("kari@kommune.no"), person("john@example.org", language="en")
JOIN = "https://teams.example.org/l/meetup-join/19%3ameeting"
HOSTILE = "Sirkulær <script>alert(1)</script> & co"


@pytest.fixture
def relay() -> Iterator[FakeRelay]:
    with fake_relay() as server:
        yield server


@pytest.fixture
def bot(db_url: str, relay: FakeRelay) -> Iterator[SmtpBot]:
    with smtp_bot(db_url, relay) as running:
        yield running


def mails_to(relay: FakeRelay, address: str) -> list[EmailMessage]:
    return [r.message() for r in relay.received if r.rcpt_tos == (address,)]


def calendar_of(mail: EmailMessage) -> tuple[str, Calendar]:
    """The .ics part's `method=` parameter (checked against its charset) and the calendar."""
    [part] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes) and part.get_param("charset") == "UTF-8"
    return str(part.get_param("method")), Calendar.from_ical(raw)


def event_of(calendar: Calendar) -> dict[str, str]:
    [event] = calendar.walk("VEVENT")
    return {
        name: str(event.get(name))
        for name in ("UID", "SEQUENCE", "STATUS", "ATTENDEE", "ORGANIZER", "LOCATION")
    }


def states(bot: SmtpBot) -> list[tuple[str, str, str]]:
    with bot.app.db.read() as s:
        rows = s.execute(select(Delivery.key, Delivery.target, Delivery.state).order_by(Delivery.id))
        return [(k.split(":")[1].split("|")[0], t, st) for k, t, st in rows]


def test_the_invitation_is_a_meeting_request_and_changes_update_it(bot: SmtpBot, relay: FakeRelay) -> None:
    bot.say(KARI, "meld på")
    bot.say(JOHN, "subscribe")
    session_id = bot.plan(10, HOSTILE, f"; lenke={JOIN}")
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(days=3, hours=1))

    [kari] = mails_to(relay, "kari@kommune.no")
    [john] = mails_to(relay, "john@example.org")
    assert {r.mail_from for r in relay.received} == {SENDER}
    assert kari["From"] == SENDER and kari["To"] == "kari@kommune.no"
    assert re.fullmatch(r"<[0-9a-f]{40}@baerekraft\.example\.org>", kari["Message-ID"])
    assert kari["Message-ID"] != john["Message-ID"]
    assert john["Subject"] != kari["Subject"]  # each in their own language
    # One-click unsubscribe, personal, and the URL literal as providers read it (never RFC 2047).
    raw = next(r.data for r in relay.received if r.rcpt_tos == ("kari@kommune.no",))
    assert re.search(rb"\r\nList-Unsubscribe: <https://baerekraft\.example\.org/u/[^>\s]+>\r\n", raw)
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert kari["List-Unsubscribe"] != john["List-Unsubscribe"]
    # Text and HTML, the title escaped in the HTML, the join link in both.
    text = kari.get_body(("plain",))
    html = kari.get_body(("html",))
    assert text is not None and html is not None
    assert HOSTILE in text.get_content() and JOIN in text.get_content()
    assert "&lt;script&gt;" in html.get_content() and "<script>" not in html.get_content()
    # The .ics: a meeting request to her, under the session's UID (the web feed's), with its SEQUENCE.
    kind, calendar = calendar_of(kari)
    assert kind == "REQUEST"
    invitation = event_of(calendar)
    assert str(calendar.get("METHOD")) == "REQUEST"
    assert invitation["UID"] == f"session-{session_id}@baerekraft.example.org"
    assert invitation["ATTENDEE"] == "mailto:kari@kommune.no"
    assert invitation["ORGANIZER"] == f"mailto:{SENDER}"
    assert invitation["LOCATION"] == JOIN

    # The organiser moves it: an update of the same calendar entry, a higher SEQUENCE.
    start = (bot.clock.now() + timedelta(days=8)).astimezone(bot.app.settings.tz)
    bot.say(ORGANISER, f"endre økt {session_id} start={start:%Y-%m-%d} 10:00")
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(hours=1))
    _, moved = calendar_of(mails_to(relay, "kari@kommune.no")[-1])
    assert str(moved.get("METHOD")) == "REQUEST"
    assert event_of(moved)["UID"] == invitation["UID"]
    assert int(event_of(moved)["SEQUENCE"]) > int(invitation["SEQUENCE"])

    # Cancelled: METHOD:CANCEL for the same entry.
    bot.say(ORGANISER, f"avlys økt {session_id}")
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(hours=1))
    kind, cancelled = calendar_of(mails_to(relay, "kari@kommune.no")[-1])
    assert kind == "CANCEL" and str(cancelled.get("METHOD")) == "CANCEL"
    assert event_of(cancelled)["UID"] == invitation["UID"]
    assert event_of(cancelled)["STATUS"] == "CANCELLED"
    assert len(mails_to(relay, "kari@kommune.no")) == 3
    kinds_sent = sorted(k for k, t, st in states(bot) if st == "sent")
    assert kinds_sent == sorted(["invitation", "change", "cancellation"] * 2)


def test_reminders_go_out_once_each_at_the_pace(bot: SmtpBot, relay: FakeRelay) -> None:
    bot.say(KARI, "meld på")
    bot.plan(3)
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(days=3))
    subjects = [m["Subject"] for m in mails_to(relay, "kari@kommune.no")]
    assert len(subjects) == 3  # the invitation (at once: planned late), the 1-day and 1-hour reminders
    assert len({m["Message-ID"] for m in mails_to(relay, "kari@kommune.no")}) == 3
    assert all(st == "sent" for _, _, st in states(bot))


def test_a_4xx_is_retried_and_the_mail_goes_out_once(bot: SmtpBot, relay: FakeRelay) -> None:
    bot.say(KARI, "meld på")
    relay.data_replies += ["451 4.3.0 Temporary local problem", "421 4.7.0 Try again later"]
    relay.refuse_rcpt["kari@kommune.no"] = "450 4.2.1 Mailbox busy"
    bot.plan(5)  # the invitation is due at once
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=2))
    assert mails_to(relay, "kari@kommune.no") == []
    with bot.app.db.read() as s:
        [row] = s.scalars(select(Delivery)).all()
        assert row.state == "pending" and "450 4.2.1" in (row.last_error or "")
    del relay.refuse_rcpt["kari@kommune.no"]
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(hours=2))
    assert len(mails_to(relay, "kari@kommune.no")) == 1
    assert relay.data_replies == []  # both 4xx answers to the message were met, and retried
    assert [(kind, state) for kind, _, state in states(bot)] == [("invitation", "sent")]


def test_a_5xx_for_one_address_fails_that_mail_only(bot: SmtpBot, relay: FakeRelay) -> None:
    bot.say(KARI, "meld på")
    bot.say(JOHN, "subscribe")
    relay.refuse_rcpt["john@example.org"] = "550 5.1.1 No such user"
    bot.plan(10)
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(days=3, minutes=5))
    assert len(mails_to(relay, "kari@kommune.no")) == 1
    with bot.app.db.read() as s:
        rows = {r.target: r for r in s.scalars(select(Delivery))}
    states_by = sorted((r.state, r.attempts) for r in rows.values())
    assert states_by == [("failed", 1), ("sent", 1)]
    failed = next(r for r in rows.values() if r.state == "failed")
    assert "550 5.1.1" in (failed.last_error or "")
    assert bot.app.delivery.paused() == []  # the channel itself is not held for one address


def test_an_answer_lost_after_the_message_is_resent_with_the_same_message_id(
    bot: SmtpBot, relay: FakeRelay
) -> None:
    bot.say(KARI, "meld på")
    relay.drop_after_data = 1
    bot.plan(10)
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(days=3, hours=1))
    copies = mails_to(relay, "kari@kommune.no")
    # The relay took it, the answer was lost: in doubt; SMTP cannot be asked, so it went again,
    # under the same Message-ID (receivers drop the duplicate), and the row says so.
    assert len(copies) == 2
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"]
    with bot.app.db.read() as s:
        [row] = s.scalars(select(Delivery)).all()
    assert row.state == "sent"
    assert "sent again" in (row.last_error or "")


def test_a_relay_that_is_down_delays_the_mail(bot: SmtpBot, relay: FakeRelay) -> None:
    bot.say(KARI, "meld på")
    relay.stop()
    bot.plan(5)  # the invitation is due at once
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=2))
    with bot.app.db.read() as s:
        [row] = s.scalars(select(Delivery)).all()
        assert row.state == "pending" and "unreachable" in (row.last_error or "")
    relay.restart()
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(hours=2))
    assert len(mails_to(relay, "kari@kommune.no")) == 1


def test_a_relay_that_never_answers_times_out_and_the_mail_waits(db_url: str) -> None:
    """A listening socket that takes the connection and says nothing (a hung relay)."""
    with socket.socket() as silent, fake_relay() as relay:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        relay.port = silent.getsockname()[1]
        with smtp_bot(db_url, relay, timeout=0.3) as bot:
            bot.say(KARI, "meld på")
            bot.plan(5)
            simulate(bot.app, bot.clock, bot.clock.now() + timedelta(seconds=30))
            with bot.app.db.read() as s:
                [row] = s.scalars(select(Delivery)).all()
            assert row.state == "pending" and row.attempts >= 1
            assert "unreachable" in (row.last_error or "") and "timed out" in (row.last_error or "")


def test_an_address_with_an_international_domain_is_sent_as_idna_and_every_mail_is_7_bit(
    bot: SmtpBot, relay: FakeRelay
) -> None:
    bot.say(person("ola@kommuné.no"), "meld på")
    bot.plan(5, "Sirkulær økonomi – æøå")
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(minutes=2))
    [received] = relay.received
    assert received.rcpt_tos == ("ola@xn--kommun-gva.no",)
    assert received.message()["To"] == "ola@xn--kommun-gva.no"  # never an RFC 2047 word in an address
    assert received.data.isascii()  # any relay takes it, 8BITMIME or not
    text = received.message().get_body(("plain",))
    assert text is not None and "Sirkulær økonomi – æøå" in text.get_content()


def test_organisers_are_told_once_when_the_invitation_cannot_reach_everyone(
    bot: SmtpBot, relay: FakeRelay
) -> None:
    bot.say(ORGANISER, "gi arrangør org@kommune.no")
    bot.say(KARI, "meld på")
    bot.say(Actor("slack", "U0SLACK1", name="Sol"), "meld på")  # Slack is not set up here
    bot.plan(10)
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(days=4))
    [notice] = mails_to(relay, "org@kommune.no")
    assert notice["Subject"] == "1 påmeldt til Bærekraftsfredag får ikke invitasjonen"
    text = notice.get_body(("plain",))
    assert text is not None and "når ikke fram til 1 av de påmeldte" in text.get_content()
    [invitation] = mails_to(relay, "kari@kommune.no")
    assert invitation["Subject"].startswith("Invitasjon")


def test_no_notice_when_every_subscriber_is_reached(bot: SmtpBot, relay: FakeRelay) -> None:
    bot.say(ORGANISER, "gi arrangør org@kommune.no")
    bot.say(KARI, "meld på")
    bot.plan(10)
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(days=4))
    assert mails_to(relay, "org@kommune.no") == []
    assert len(mails_to(relay, "kari@kommune.no")) == 1


def test_every_mail_to_subscribers_invites_them_to_bring_a_colleague(bot: SmtpBot, relay: FakeRelay) -> None:
    bot.say(KARI, "meld på")
    bot.say(JOHN, "subscribe")
    bot.plan(10, "Sirkulær økonomi")
    simulate(bot.app, bot.clock, bot.clock.now() + timedelta(days=3, hours=1))
    page = "https://baerekraft.example.org/s/baerekraftsfredag/invite"
    for address, words in (
        ("kari@kommune.no", "Inviter en kollega"),
        ("john@example.org", "Invite a colleague"),
    ):
        [mail] = mails_to(relay, address)
        text, html = mail.get_body(("plain",)), mail.get_body(("html",))
        assert text is not None and html is not None
        assert f"{words}: {page}" in text.get_content()
        assert f'<a href="{page}">{words}</a>' in html.get_content()
