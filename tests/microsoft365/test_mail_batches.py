"""MAIL_BATCH=bcc: reminders and follow-ups by Exchange mail as one message per MAIL_MAX_RECIPIENTS
people of a language, in Bcc, with the series' leave page instead of a personal unsubscribe link;
each batch one outbox row, sent once through lost answers, read fresh when it goes out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.models import Delivery
from bot.settings import DeliveryLimits
from tests.conftest import NOW, ORGANISER, person
from tests.delivery.helpers import delivery_states, simulate
from tests.microsoft365.fakes.graph_api import ORGANISER as MAILBOX
from tests.microsoft365.fakes.graph_tenant import Mail
from tests.microsoft365.support import PUBLIC, Tenant365, tenant365

NB = [f"p{n}@kommune.no" for n in range(5)]
EN = ["john@example.org", "jane@example.org"]
LEAVE = f"{PUBLIC}/s/baerekraftsfredag/leave"


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    # An hour's lease: days of simulated time renew each claim far less often (not what is tested).
    limits = DeliveryLimits(
        mail_rate_per_minute=600, mail_max_recipients=3, mail_batch="bcc", delivery_lease_seconds=3600
    )
    with tenant365(db_url, ManualClock(NOW), monkeypatch, limits=limits) as tenant:
        tenant.attach_senders()
        for address in NB:
            tenant.say(person(address), "meld på")
        for address in EN:
            tenant.say(person(address, language="en"), "subscribe")
        yield tenant


def batches(ms: Tenant365) -> list[Mail]:
    return [m for m in ms.graph.tenant.mails if "X-Baerekraft-Delivery" in m.headers]


def with_slides(ms: Tenant365) -> int:
    """A session that has ended, with its slides: its follow-up is due at once."""
    session_id = ms.add_session(NOW - timedelta(days=1), allow_past=True)
    ms.say(ORGANISER, f"ny lenke {session_id} https://ks.no/lysark.pdf Lysark")
    return session_id


def test_a_follow_up_goes_in_bcc_batches_by_language_with_the_leave_page(ms: Tenant365) -> None:
    with_slides(ms)
    simulate(ms.app, ms.clock, NOW + timedelta(hours=3))
    sent = batches(ms)
    # At most MAIL_MAX_RECIPIENTS with the To (the mailbox): nb 2 + 2 + 1, en 2.
    assert sorted(len(m.bcc) for m in sent) == [1, 2, 2, 2]
    assert all(len(m.recipients) <= 3 for m in sent)
    assert sorted(a for m in sent for a in m.bcc) == sorted(NB + EN)
    english = next(m for m in sent if "john@example.org" in m.bcc)
    norwegian = next(m for m in sent if NB[0] in m.bcc)
    assert english.subject.startswith("The presentations from")
    assert norwegian.subject.startswith("Presentasjonene fra")
    for mail in sent:
        assert mail.to == [MAILBOX]  # nobody sees the others
        assert mail.headers["List-Unsubscribe"] == f"<{LEAVE}>"
        assert "List-Unsubscribe-Post" not in mail.headers  # one-click needs a personal URL
        assert mail.text is not None and LEAVE in mail.text and f"{PUBLIC}/u/" not in mail.text
        assert mail.attachments == []  # they are the Exchange meeting's attendees
    with ms.app.db.read() as s:
        rows = s.execute(select(Delivery.target, Delivery.state).where(Delivery.channel == "email")).all()
    assert sorted(state for _, state in rows) == ["sent"] * 4
    assert ms.m365.mailbox.used_today() == 7  # the day counts recipients, not messages


def test_a_batch_whose_answer_is_lost_is_looked_up_not_sent_twice(ms: Tenant365) -> None:
    ms.graph.fail("POST", "/sendMail", status=504, retry_after=None, after=True, times=2)  # sent, answer lost
    ms.graph.fail("POST", "/sendMail", status=503, retry_after=2, after=True)  # sent, then "try later"
    with_slides(ms)
    simulate(ms.app, ms.clock, NOW + timedelta(hours=3))
    sent = batches(ms)
    assert len(sent) == 4 and Counter(m.message_id for m in sent).most_common(1)[0][1] == 1
    assert Counter(a for m in sent for a in m.bcc) == Counter(NB + EN)  # each person once
    assert "failed" not in delivery_states(ms.app)
    with ms.app.db.read() as s:
        refs = set(s.scalars(select(Delivery.external_ref).where(Delivery.channel == "email")))
    assert refs == {m.message_id for m in sent}


def test_a_batch_is_read_when_it_goes_out(ms: Tenant365) -> None:
    """Planned with everyone; who leaves before it goes is left out; who joins after is not added."""
    with_slides(ms)
    ms.clock.advance(timedelta(hours=3))
    ms.app.delivery.plan()  # the follow-up is expanded into its batches
    ms.say(person(NB[0]), "meld av")
    ms.say(person("late@kommune.no"), "meld på")
    ms.app.delivery.run_until_idle()
    recipients = sorted(a for m in batches(ms) for a in m.bcc)
    assert recipients == sorted(NB[1:] + EN)


def test_no_reminder_in_a_batch_to_someone_who_joined_within_its_offset(ms: Tenant365) -> None:
    """As for one mail each: no 1-day reminder to someone who joined a day and a half before the
    session (less than a day before that reminder's moment plus its day); the 1-hour one, yes."""
    start = NOW + timedelta(days=3)
    ms.add_session(start)
    simulate(ms.app, ms.clock, start - timedelta(days=1, hours=12))
    ms.say(person("late@kommune.no"), "meld på")
    simulate(ms.app, ms.clock, start - timedelta(minutes=30))
    reminders: dict[str, list[str]] = {}
    for mail in batches(ms):
        offset = mail.headers["X-Baerekraft-Delivery"].split(":")[2]
        reminders.setdefault(offset, []).extend(mail.bcc)
    assert sorted(reminders) == ["1d", "1h"]
    assert "late@kommune.no" not in reminders["1d"] and "late@kommune.no" in reminders["1h"]
    assert sorted(reminders["1d"]) == sorted(NB + EN)
