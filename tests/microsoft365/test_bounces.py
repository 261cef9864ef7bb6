"""Bounces of Exchange mail: Exchange puts a non-delivery report in the organiser mailbox's inbox
for mail to an address that does not exist; the bot reads the inbox by delta query (Mail.Read),
downloads only the reports, matches them to the mail that bounced, and after three in 30 days
stops mailing that address. Throttling is waited out; a missing permission is a problem shown on
the channel, and the inbox is read again once it is granted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.models import MailBounce, Person
from jobs.bounces import poll_bounces
from tests.conftest import NOW, person
from tests.delivery.helpers import simulate
from tests.microsoft365.fakes.graph_mailbox import put
from tests.microsoft365.support import Tenant365, tenant365

KARI, OLA = person("kari@kommune.no"), person("ola.nordmann@tidligere-kommune.no", name="Ola Nordmann")
GONE = "ola.nordmann@tidligere-kommune.no"
VALUE = r"/messages/[^/]+/\$value"


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        tenant.login()
        tenant.attach_senders()
        tenant.graph.tenant.nonexistent.add(GONE)
        yield tenant


def poll(ms: Tenant365) -> int:
    return poll_bounces(ms.app, [ms.m365.bounces])


def bounces(ms: Tenant365) -> list[tuple[str, bool, str]]:
    with ms.app.db.read() as s:
        return [(b.address, b.hard, b.status) for b in s.scalars(select(MailBounce).order_by(MailBounce.id))]


def suspended(ms: Tenant365) -> bool:
    with ms.app.db.read() as s:
        ola = s.scalar(select(Person).where(Person.email == GONE))
        assert ola is not None
        return ola.mail_suspended_at is not None


def test_exchanges_reports_are_read_once_and_the_third_stops_mail(ms: Tenant365) -> None:
    ms.say(KARI, "meld på")
    ms.say(OLA, "meld på")
    reply = b"From: Kari <kari@kommune.no>\r\nSubject: Takk!\r\nMessage-ID: <r@kommune.no>\r\n\r\nhei\r\n"
    put(ms.graph, reply)  # a person's reply in the same inbox: never downloaded
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))  # the 1-day reminder
    reports = [m for m in ms.graph.tenant.inbox if m.sender.lower().startswith("microsoftexchange")]
    assert len(reports) == 1 and reports[0].subject.startswith("Undeliverable: ")
    assert poll(ms) == 1
    assert ms.graph.count("GET", VALUE) == 1
    assert bounces(ms) == [(GONE, True, "5.1.10")]
    # Read again: the delta link stored, nothing new, nothing downloaded twice.
    assert poll(ms) == 0
    assert ms.graph.count("GET", VALUE) == 1
    simulate(ms.app, ms.clock, NOW + timedelta(days=2))  # the 1-hour reminder bounces too
    assert poll(ms) == 1
    assert not suspended(ms)
    ms.add_session(NOW + timedelta(days=4), "Neste")
    simulate(ms.app, ms.clock, NOW + timedelta(days=3, minutes=1))
    assert poll(ms) == 1
    assert suspended(ms)
    with ms.app.db.read() as s:
        matched = s.scalars(select(MailBounce.person_id)).all()
    assert len(matched) == 3 and len(set(matched)) == 1 and None not in matched
    # The next reminder: Kari gets hers by mail, Ola none.
    ms.graph.tenant.mails.clear()
    simulate(ms.app, ms.clock, NOW + timedelta(days=4))
    mailed = {m.to[0] for m in ms.graph.tenant.mails if "X-Baerekraft-Delivery" in m.headers}
    assert "kari@kommune.no" in mailed and GONE not in mailed


def test_throttling_is_waited_out_and_a_missing_permission_is_shown(ms: Tenant365) -> None:
    ms.say(OLA, "meld på")
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
    ms.graph.fail("GET", r"/mailFolders/inbox/messages/delta", status=429, retry_after=2)
    ms.graph.fail("GET", VALUE, status=503, retry_after=None)
    assert poll(ms) == 1
    assert len(bounces(ms)) == 1
    assert ms.graph.count("GET", "/inbox/messages/delta", successful_only=False) == 2  # 429, then 200
    assert ms.graph.count("GET", VALUE, successful_only=False) == 2  # 503, then 200
    ms.idp.withdraw("Mail.Read")
    ms.idp.expire_access_tokens()  # the token with the role runs out; the next lacks it
    simulate(ms.app, ms.clock, NOW + timedelta(days=2))
    assert poll(ms) == 0
    assert "Mail.Read" in ms.m365.health.problems().get("bounces", "")
    ms.idp.grant("Mail.Read")
    assert poll(ms) == 1
    assert "bounces" not in ms.m365.health.problems()
