"""Exchange Online's sending limits in the Graph fake (recipients a rolling day, recipients in one
message), and the bot against them: what Exchange answers is waited out, never lost or sent twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.mail import MailMessage
from bot.mail_mime import build_mime
from bot.models import Delivery
from bot.settings import DeliveryLimits
from handlers.microsoft365.errors import GraphError, GraphThrottled
from tests.conftest import NOW, ORGANISER, person
from tests.delivery.helpers import delivery_states, simulate
from tests.microsoft365.support import Tenant365, tenant365


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    limits = DeliveryLimits(mail_rate_per_minute=600, delivery_lease_seconds=3600)
    with tenant365(db_url, ManualClock(NOW), monkeypatch, limits=limits) as tenant:
        yield tenant


def mime(to: str, *, bcc: list[str] | None = None, n: int = 0) -> bytes:
    message = MailMessage(to, "Emne", "Tekst", headers={"Bcc": ", ".join(bcc)} if bcc else {})
    return build_mime(message, sender="arrangor@ks.example", message_id=f"<m{n}@x>", date=NOW)


def test_a_message_to_more_than_500_recipients_is_refused(ms: Tenant365) -> None:
    api = ms.m365.mail
    crowd = [f"p{i}@kommune.no" for i in range(500)]
    api.send_mime(mime("arrangor@ks.example", bcc=crowd[:499]), retry=False)  # 500 with the To
    with pytest.raises(GraphError) as refused:
        api.send_mime(mime("arrangor@ks.example", bcc=crowd, n=1), retry=False)
    assert not isinstance(refused.value, GraphThrottled)
    assert "RecipLimit" in str(refused.value)
    [sent] = ms.graph.tenant.mails
    assert len(sent.recipients) == 500 and sent.bcc[0] == "p0@kommune.no"


def test_the_mailbox_day_counts_bcc_and_meeting_invitations_and_frees_after_24_hours(ms: Tenant365) -> None:
    tenant, api = ms.graph.tenant, ms.m365.mail
    tenant.recipients_per_day = 10
    tenant.count_recipients(4)  # Exchange invited four attendees to a meeting
    api.send_mime(mime("a@kommune.no", bcc=["b@kommune.no", "c@kommune.no"]), retry=False)
    ms.clock.advance(timedelta(hours=2))
    api.send_mime(mime("d@kommune.no", bcc=["e@kommune.no", "f@kommune.no"], n=1), retry=False)
    assert tenant.recipients_in_day() == 10
    with pytest.raises(GraphThrottled) as full:
        api.send_mime(mime("g@kommune.no", n=2), retry=False)
    assert full.value.retry_after == pytest.approx(22 * 3600, abs=2)  # when the first mail leaves the day
    ms.clock.advance(timedelta(hours=22, seconds=1))
    api.send_mime(mime("g@kommune.no", n=2), retry=False)
    assert [m.to for m in tenant.mails][-1] == ["g@kommune.no"]


def test_the_bot_waits_out_a_mailbox_day_exchange_says_is_full(ms: Tenant365) -> None:
    """Another program sent from the mailbox (the bot's own count knows nothing of it): Exchange's
    answer holds the mail until the day has room, and each reminder still goes out once."""
    ms.attach_senders()
    tenant = ms.graph.tenant
    tenant.recipients_per_day = 4
    tenant.count_recipients(2)  # someone mailed two people from the organiser mailbox an hour ago
    for n in range(4):
        ms.say(person(f"p{n}@kommune.no"), "meld på")
    session_id = ms.add_session(NOW - timedelta(days=1), allow_past=True)
    ms.say(ORGANISER, f"ny lenke {session_id} https://ks.no/lysark.pdf Lysark")
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, hours=5))
    with ms.app.db.read() as s:
        sent = sorted(t for t in s.scalars(select(Delivery.sent_at).where(Delivery.channel == "email")) if t)
    assert len(sent) == 4
    assert sent[1] - sent[0] < timedelta(minutes=1)
    assert sent[2] >= NOW + timedelta(days=1)  # the day was full after two: the rest waited for room
    followups = [m for m in tenant.mails if "X-Baerekraft-Delivery" in m.headers]
    assert sorted(m.to[0] for m in followups) == [f"p{n}@kommune.no" for n in range(4)]
    assert "failed" not in delivery_states(ms.app)
