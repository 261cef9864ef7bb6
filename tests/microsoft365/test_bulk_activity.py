"""Activity-feed notifications in bulk: one `sendActivityNotificationToRecipients` call for up to 100
subscribers with the same message, at Graph's pace for it (2 a second), each row sent once."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.models import Delivery
from handlers.microsoft365.client import Auth
from handlers.microsoft365.errors import GraphError
from tests.conftest import NOW
from tests.delivery.helpers import simulate
from tests.microsoft365.support import Tenant365, tenant365

MEMBERS = 230


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        tenant.login()
        tenant.attach_senders()
        yield tenant


def members(ms: Tenant365, count: int) -> list[str]:
    ids = [f"aad-member-{i:04d}" for i in range(count)]
    for i, user_id in enumerate(ids):
        ms.graph.tenant.add_user(user_id, f"Medlem {i}", None)
        ms.say(Actor("teams", user_id), "meld på")
    return ids


def activity_rows(ms: Tenant365) -> list[Delivery]:
    with ms.app.db.read() as s:
        return list(
            s.scalars(
                select(Delivery).where(Delivery.channel == "teams", Delivery.target.like("user:%"))
            ).all()
        )


def test_a_fan_out_goes_to_the_activity_feed_a_hundred_at_a_time(ms: Tenant365) -> None:
    ids = members(ms, MEMBERS)
    ms.graph.tenant.users[ids[7]].app_installed = False  # Graph accepts the call all the same
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(minutes=5))

    calls = ms.graph.tenant.bulk_calls  # a claim of 100 rows may hold the channel's post as well
    assert len(calls) == 3 and sum(calls) == MEMBERS and max(calls) == 100
    assert ms.graph.count("POST", "/users/[^/]+/teamwork/sendActivityNotification$") == 0
    got = Counter(user for user, _ in ms.graph.tenant.activities)
    assert set(got) == set(ids) - {ids[7]} and set(got.values()) == {1}
    [body] = {str(b) for _, b in ms.graph.tenant.activities}  # one message, the same for all
    assert "Invitasjon" in body
    rows = activity_rows(ms)
    assert Counter(r.state for r in rows) == {"sent": MEMBERS}
    # Graph allows 2 calls a second for the bulk endpoint: the calls are half a second apart.
    moments = sorted({r.sent_at for r in rows if r.sent_at is not None})
    assert len(moments) == 3
    assert all((b - a) >= timedelta(milliseconds=500) for a, b in itertools.pairwise(moments))


def test_a_token_near_its_expiry_is_renewed_for_the_bulk_call(ms: Tenant365) -> None:
    members(ms, 3)
    ms.m365.app_auth.token()  # cached by msal
    ms.idp.age_access_tokens(20 * 60)  # 40 minutes left: Graph wants 45 for this call
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(minutes=5))
    assert ms.graph.tenant.bulk_calls == [3]
    assert Counter(r.state for r in activity_rows(ms)) == {"sent": 3}


def test_the_fake_holds_graph_to_a_hundred_recipients_and_the_payload_shape(ms: Tenant365) -> None:
    def call(count: int, **change: object) -> int:
        body: dict[str, object] = {
            "topic": {"source": "text", "value": "Invitasjon", "webUrl": "https://teams.microsoft.com"},
            "activityType": "announcement",
            "previewText": {"content": "Hei"},
            "recipients": [
                {"@odata.type": "microsoft.graph.aadUserNotificationRecipient", "userId": f"u{i}"}
                for i in range(count)
            ],
            **change,
        }
        try:
            answer = ms.m365.client.call(
                "POST",
                "/teamwork/sendActivityNotificationToRecipients",
                auth=Auth.APP,
                permission="TeamsActivity.Send",
                json=body,
            )
        except GraphError as exc:
            return exc.status
        return answer.status

    assert call(100) == 202
    assert call(101) == 400
    assert call(0) == 400
    assert call(1, topic={"source": "text", "value": "x"}) == 400  # no webUrl
    assert call(1, recipients=[{"userId": "u1"}]) == 400  # no @odata.type
