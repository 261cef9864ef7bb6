"""Mail through Graph with the delivery engine: the MIME route with List-Unsubscribe, text + HTML in
each person's language, the session's .ics, the shared pace and daily limit, and every mail sent once
through a burst of 429s, 5xx and lost answers."""

from __future__ import annotations

import email
import email.policy
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.clock import ManualClock
from bot.mail import MailMessage
from bot.models import Delivery, Person
from bot.services.context import Ctx
from bot.services.series import resolve_series, set_language
from bot.settings import DeliveryLimits
from handlers.microsoft365.models import GraphEvent
from tests.conftest import NOW, ORGANISER, person
from tests.delivery.helpers import delivery_states, simulate
from tests.microsoft365.fakes.graph_tenant import Mail
from tests.microsoft365.support import PUBLIC, Tenant365, tenant365

KARI, JOHN = person("kari@kommune.no"), person("john@example.org", language="en")
HOSTILE = "Sirkulær <script>alert(1)</script> & co"
# A public address of real length: with /u/ and a 51-character token, a 200-character unsubscribe URL.
LONG_PUBLIC = "https://baerekraftsfredag.kommune-nettverket.example.org/tjenester/klima-og-miljo/webinarer"
LONG_PUBLIC += "/baerekraftsfredag-for-kommunene/pamelding"
LONG_PUBLIC += "/" + "x" * (146 - len(LONG_PUBLIC) - 1)


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        tenant.login()
        tenant.attach_senders()
        yield tenant


def reminders(ms: Tenant365) -> list[Mail]:
    return [m for m in ms.graph.tenant.mails if "X-Baerekraft-Delivery" in m.headers]


def sent_times(ms: Tenant365) -> list[datetime]:
    with ms.app.db.read() as s:
        found = s.scalars(select(Delivery.sent_at).where(Delivery.channel == "email"))
        return sorted(t for t in found if t is not None)


def ics_of(mail: Mail) -> str:
    [(name, kind, content)] = mail.attachments
    assert name.endswith(".ics") and kind == "text/calendar"
    return content.decode()


def test_reminder_mails_in_each_language_with_unsubscribe_headers_and_ics(ms: Tenant365) -> None:
    ms.say(KARI, "meld på")
    ms.say(JOHN, "subscribe")
    session_id = ms.add_session(NOW + timedelta(days=2), HOSTILE)
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
    mails = {m.to[0]: m for m in reminders(ms)}
    assert sorted(mails) == ["john@example.org", "kari@kommune.no"]  # the 1-day reminder; no invitation mail
    kari, john = mails["kari@kommune.no"], mails["john@example.org"]
    assert kari.route == "mime" and kari.subject.startswith("Påminnelse: ")
    assert john.subject.startswith("Reminder: ")
    assert kari.headers["List-Unsubscribe"].startswith(f"<{PUBLIC}/u/")
    assert kari.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert kari.headers["List-Unsubscribe"] != john.headers["List-Unsubscribe"]  # personal links
    assert kari.headers["X-Baerekraft-Delivery"].startswith(f"s{session_id}:reminder:1d")
    assert kari.text is not None and HOSTILE in kari.text and "Meld deg av" in kari.text
    assert kari.html is not None and "&lt;script&gt;" in kari.html and "<script>" not in kari.html
    assert "starter" in kari.html and "starts" in (john.html or "")
    calendar = ics_of(kari)
    # Kari is not an attendee of the Exchange meeting yet: her .ics names the meeting's own UID, so the
    # entry it makes is the one Exchange's invitation updates (no second entry in Outlook).
    [event] = ms.graph.tenant.live_events()
    assert f"UID:{event.ical_uid}" in calendar.replace("\r\n ", "")
    assert "SEQUENCE:0" in calendar and "METHOD:PUBLISH" in calendar
    [part] = [
        p
        for p in email.message_from_bytes(kari.raw, policy=email.policy.default).walk()
        if p.get_content_type() == "text/calendar"
    ]
    assert part.get_param("method") == "PUBLISH" and part.get_param("charset") == "UTF-8"  # RFC 6047
    # The meeting was made just in time for the first message, so its join link is in the mail.
    join_url = ms.session(session_id).join_url
    assert join_url and join_url in kari.text and "LOCATION:" in calendar


def test_a_danish_series_mails_and_invites_in_danish(ms: Tenant365) -> None:
    with ms.app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, ms.clock.now(), ms.app.config)
        set_language(ctx, resolve_series(ctx, "baerekraftsfredag"), "da")
    assert "Du er nu tilmeldt Bærekraftsfredag" in ms.say(person("dorte@kommune.dk"), "tilmeld")
    ms.add_session(NOW + timedelta(days=2), "Cirkulær økonomi")
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
    [mail] = reminders(ms)
    assert mail.subject == "Påmindelse: Cirkulær økonomi – fredag den 6. marts 2026 kl. 11:00"
    assert (
        mail.text is not None and "Bærekraftsfredag begynder fredag den 6. marts 2026 kl. 11:00." in mail.text
    )
    assert "Frameld dig her:" in mail.text
    assert mail.html is not None and '<html lang="da">' in mail.html
    [event] = ms.graph.tenant.live_events()
    assert "Du får denne invitation, fordi du er tilmeldt Bærekraftsfredag." in event.body


def test_an_address_stored_before_it_was_validated_is_never_mailed(ms: Tenant365) -> None:
    """Two recipients in one address (kept from before addresses were checked) reach nobody."""
    ms.say(KARI, "meld på")
    with ms.app.db.transaction() as s:
        kari = s.scalars(select(Person).where(Person.email == "kari@kommune.no")).one()
        kari.email = "x0,victim@x.no"
    ms.add_session(NOW + timedelta(days=2), "Klima")
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
    assert reminders(ms) == []
    with ms.app.db.read() as s:
        [error] = s.scalars(select(Delivery.last_error).where(Delivery.channel == "email"))
    assert error is not None and "not one e-mail address" in error


def test_attendees_of_the_exchange_meeting_get_no_second_calendar_entry(ms: Tenant365) -> None:
    ms.say(KARI, "meld på")
    session_id = ms.add_session(NOW + timedelta(days=2))
    ms.app.delivery.plan()  # the invitation is due at once
    ms.m365.calendar.run_once()  # Exchange invites Kari to the meeting
    [event] = ms.graph.tenant.live_events()
    assert event.attendees == ["kari@kommune.no"]
    ms.say(JOHN, "subscribe")  # not invited yet when the reminder goes out
    # An event made before the bot kept iCalUId: it is read from Graph once, then kept.
    with ms.app.db.transaction() as s:
        s.execute(update(GraphEvent).values(ical_uid=None))
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
    mails = {m.to[0]: m for m in reminders(ms)}
    assert mails["kari@kommune.no"].attachments == []  # Outlook has the meeting from Exchange
    assert f"UID:{event.ical_uid}" in ics_of(mails["john@example.org"]).replace("\r\n ", "")
    with ms.app.db.read() as s:
        assert (
            s.scalar(select(GraphEvent.ical_uid).where(GraphEvent.session_id == session_id)) == event.ical_uid
        )


def test_a_moved_session_raises_the_sequence_in_the_next_reminder(ms: Tenant365) -> None:
    ms.say(KARI, "meld på")
    session_id = ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(hours=1))
    ms.say(ORGANISER, f"endre økt {session_id} start=2026-03-06 12:00")
    simulate(ms.app, ms.clock, NOW + timedelta(days=2, hours=2))
    sequences = [
        line for m in reminders(ms) for line in ics_of(m).splitlines() if line.startswith("SEQUENCE")
    ]
    assert sequences[-1] == "SEQUENCE:1"
    # The change itself reaches people through the meeting (Exchange), not as a mail of its own.
    assert not [m for m in reminders(ms) if "change" in m.headers["X-Baerekraft-Delivery"]]


def test_a_burst_of_throttling_and_lost_answers_still_sends_each_mail_once(ms: Tenant365) -> None:
    people = [person(f"p{n}@kommune.no") for n in range(12)]
    for someone in people:
        ms.say(someone, "meld på")
    ms.add_session(NOW + timedelta(days=2))
    ms.graph.fail("POST", "/sendMail", status=429, retry_after=5, times=8)
    ms.graph.fail("POST", "/sendMail", status=503, retry_after=None, times=2)
    ms.graph.fail("POST", "/sendMail", status=504, retry_after=None, after=True, times=2)  # sent, answer lost
    ms.graph.fail("POST", "/sendMail", status=202, retry_after=None, delay=5.5, after=True)  # sent, timed out
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, hours=1))
    counts = Counter(m.to[0] for m in reminders(ms))
    assert sorted(counts) == sorted(p.external_id for p in people)
    assert set(counts.values()) == {1}
    assert ms.graph.count("GET", "SentItems") >= 3  # the ones in doubt were looked up, not resent
    with ms.app.db.read() as s:
        states = Counter(s.scalars(select(Delivery.state).where(Delivery.channel == "email")))
    assert states == {"sent": 12}


def test_a_503_after_exchange_accepted_the_mail_is_checked_in_sent_items_not_resent(ms: Tenant365) -> None:
    people = [person(f"p{n}@kommune.no") for n in range(6)]
    for someone in people:
        ms.say(someone, "meld på")
    ms.add_session(NOW + timedelta(days=2))
    # Exchange takes each of the first five mails into Sent Items, then answers 503 (with Retry-After).
    ms.graph.fail("POST", "/sendMail", status=503, retry_after=2, after=True, times=5)
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, hours=1))
    counts = Counter(m.to[0] for m in reminders(ms))
    assert sorted(counts) == sorted(p.external_id for p in people)
    assert set(counts.values()) == {1}  # nobody got the reminder twice
    assert ms.graph.count("GET", "SentItems") >= 5  # each in doubt was looked up by its Message-ID
    with ms.app.db.read() as s:
        rows = s.execute(
            select(Delivery.state, Delivery.external_ref).where(Delivery.channel == "email")
        ).all()
    assert [state for state, _ in rows] == ["sent"] * 6
    assert {m.message_id for m in reminders(ms)} == {ref for _, ref in rows}


def test_the_daily_recipient_limit_holds_and_the_rest_follows_a_day_later(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An hour's lease: a day of waiting renews the claim 72 times instead of 8,640 (not what is tested).
    limits = DeliveryLimits(mail_rate_per_minute=600, mail_daily_recipients=3, delivery_lease_seconds=3600)
    with tenant365(db_url, ManualClock(NOW), monkeypatch, limits=limits) as ms:
        ms.login()
        ms.attach_senders()
        for n in range(5):
            ms.say(person(f"p{n}@kommune.no"), "meld på")
        session_id = ms.add_session(NOW - timedelta(days=1), allow_past=True)
        ms.say(ORGANISER, f"ny lenke {session_id} https://ks.no/lysark.pdf Lysark")
        simulate(ms.app, ms.clock, NOW + timedelta(days=1, hours=4))
        assert len(reminders(ms)) == 5
        with ms.app.db.read() as s:
            sent = sorted(
                t for t in s.scalars(select(Delivery.sent_at).where(Delivery.channel == "email")) if t
            )
        assert sent[3] - sent[0] >= timedelta(days=1)  # the fourth waited for the first to leave the day
        assert sent[2] - sent[0] < timedelta(minutes=1)
        assert "failed" not in delivery_states(ms.app)


def test_mail_keeps_the_shared_pace(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = DeliveryLimits(mail_rate_per_minute=30)
    with tenant365(db_url, ManualClock(NOW), monkeypatch, limits=limits) as ms:
        ms.attach_senders()
        for n in range(4):
            ms.say(person(f"p{n}@kommune.no"), "meld på")
        session_id = ms.add_session(NOW - timedelta(days=1), allow_past=True)
        ms.say(ORGANISER, f"ny lenke {session_id} https://ks.no/lysark.pdf Lysark")
        mailer = ms.m365.mailer()
        simulate(ms.app, ms.clock, NOW + timedelta(hours=3))
        mailer.send(MailMessage("web@kommune.no", "Bekreft", "Klikk", headers={"List-Unsubscribe": "<x>"}))
        sent = sent_times(ms)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent)]
        assert gaps and min(gaps) >= 2.0  # 30 a minute, one slot each
        confirmation = ms.graph.tenant.mails[-1]
        assert confirmation.to == ["web@kommune.no"] and confirmation.headers["List-Unsubscribe"] == "<x>"


def test_the_mime_is_a_real_multipart_mail() -> None:
    from datetime import UTC, datetime

    from bot.mail import Attachment
    from bot.mail_mime import build_mime

    raw = build_mime(
        MailMessage(
            "kari@kommune.no",
            "Tittel\r\nBcc: evil@example.org",
            "tekst",
            "<p>html</p>",
            {"List-Unsubscribe": "<https://x/u/1>", "From": "evil@example.org"},
            (Attachment("a.ics", "text/calendar", b"BEGIN:VCALENDAR"),),
        ),
        sender="baerekraft@ks.example",
        message_id="<id@x>",
        date=datetime(2026, 3, 4, tzinfo=UTC),
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["Subject"] == "Tittel Bcc: evil@example.org"
    assert parsed["From"] == "baerekraft@ks.example"
    assert parsed.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in parsed.walk()][1:] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]


def literal_header(raw: bytes, name: str) -> bytes:
    """A header as the bytes carry it (folding undone, nothing decoded): what a mail provider reads."""
    found = re.search(rb"^" + name.encode() + rb": ?(.*(?:\r\n[ \t].*)*)\r$", raw, re.M)
    assert found is not None, f"no {name} header"
    return re.sub(rb"\r\n(?=[ \t])", b"", found.group(1))


def test_list_unsubscribe_is_a_literal_https_url_at_real_length(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant365(db_url, ManualClock(NOW), monkeypatch, public_base_url=LONG_PUBLIC) as ms:
        ms.login()
        ms.attach_senders()
        ms.say(KARI, "meld på")
        ms.add_session(NOW + timedelta(days=2), "Sirkulær økonomi i kommunene")
        simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
        [mail] = reminders(ms)
    # The raw MIME bytes Graph received, read by the stdlib parser and by a plain byte regex.
    parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    value = str(parsed["List-Unsubscribe"])
    assert re.fullmatch(rf"<{re.escape(LONG_PUBLIC)}/u/[A-Za-z0-9._-]+>", value)
    assert len(value) - 2 >= 200
    assert literal_header(mail.raw, "List-Unsubscribe") == value.encode()  # never RFC 2047-encoded
    assert literal_header(mail.raw, "List-Unsubscribe-Post") == b"List-Unsubscribe=One-Click"
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert mail.headers["List-Unsubscribe"] == value  # the fake reads it literally, as Gmail does
    # The other headers are still encoded and folded as mail needs (no line over 998 characters).
    assert "Sirkulær økonomi i kommunene" in parsed["Subject"]
    assert b"=?utf-8?" in literal_header(mail.raw, "Subject")
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 998


def test_list_unsubscribe_with_two_addresses_folds_only_at_whitespace() -> None:
    from datetime import UTC, datetime

    from bot.mail_mime import build_mime

    https = f"https://{'a' * 40}.example.org/u/{'t' * 150}"
    header = f"<mailto:leave@{'b' * 60}.example.org?subject=unsubscribe>, <{https}>"
    raw = build_mime(
        MailMessage("kari@kommune.no", "Hei", "tekst", None, {"List-Unsubscribe": header}),
        sender="baerekraft@ks.example",
        message_id="<id@x>",
        date=datetime(2026, 3, 4, tzinfo=UTC),
    )
    assert literal_header(raw, "List-Unsubscribe") in (header.encode(), header.replace(", ", ",").encode())
    assert b"=?" not in literal_header(raw, "List-Unsubscribe")
    assert str(email.message_from_bytes(raw, policy=email.policy.default)["List-Unsubscribe"]) == header
