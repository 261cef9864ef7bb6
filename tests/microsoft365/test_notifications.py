"""`POST /graph/notifications` on the bot's real web server, driven by the fake Graph: validation,
clientState, 202 at once with the work done after, subscriptions renewed and made again, lifecycle
events, and a message seen by both a notification and the delta poll carried out once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.models import AuditEvent
from handlers.microsoft365.models import GraphSubscription
from handlers.microsoft365.status import channel_state, status_lines
from tests.conftest import NOW, inbox_worker
from tests.microsoft365.support import (
    BOT_ID,
    KARI,
    Tenant365,
    free_port,
    serving,
    tenant365,
    wait_for,
)


@pytest.fixture
def live(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    port = free_port()
    public = f"https://127.0.0.1:{port}"
    with tenant365(db_url, ManualClock(NOW), monkeypatch, public_base_url=public) as ms:
        inbox = ms.m365.inbox
        with serving(ms.app, [inbox.route()], port, tls=True), inbox_worker(ms.app):
            inbox.start()
            ms.login()
            ms.m365.poll()
            ms.clock.advance(timedelta(seconds=5))
            try:
                yield ms
            finally:
                inbox.stop()


def subscriptions(ms: Tenant365) -> dict[str, str]:
    with ms.app.db.read() as s:
        return {row.resource: row.id for row in s.scalars(select(GraphSubscription))}


def replies_to(ms: Tenant365, thread_id: str) -> list[str]:
    return [m.html for m in ms.graph.tenant.replies(thread_id) if m.from_id == BOT_ID]


def test_the_validation_token_is_echoed_as_plain_text(live: Tenant365) -> None:
    url = f"{live.app.settings.public_base_url}/graph/notifications"
    answer = httpx.post(url, params={"validationToken": "abc <script> & 1"}, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "abc <script> & 1"


def test_subscriptions_are_made_for_the_channel_and_the_chats_and_validated(live: Tenant365) -> None:
    live.m365.subscriptions.tick()
    assert sorted(subscriptions(live)) == [
        "/teams/team-0001/channels/19:network@thread.tacv2/messages",
        "/users/aad-bot/chats/getAllMessages",
    ]
    assert [ok for _, ok in live.graph.notifier.validations] == [True] * 4  # notification + lifecycle URLs
    live.m365.subscriptions.tick()
    assert len(live.graph.notifier.subscriptions) == 2  # nothing new while they are fresh


def test_a_notified_command_is_carried_out_once_though_also_polled(live: Tenant365) -> None:
    live.m365.subscriptions.tick()
    asked = live.in_channel(KARI, "!baerekraft meld på")
    [delivered] = live.graph.notifier.delivered
    assert delivered.status == 202
    assert wait_for(lambda: replies_to(live, asked.id))
    sub_id = delivered.subscription_id
    live.graph.notifier.send(
        live.graph.notifier.subscriptions[sub_id], delivered.body["value"]
    )  # redelivered
    assert live.m365.poll() == 0  # the delta sees it too
    live.m365.inbox.process_pending()
    assert len(replies_to(live, asked.id)) == 1
    with live.app.db.read() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "subscription.created")) == 1


def test_a_chat_message_arrives_by_notification(live: Tenant365) -> None:
    live.m365.subscriptions.tick()
    chat = live.in_chat(KARI, "hjelp")
    assert wait_for(
        lambda: [m for m in live.graph.tenant.chat_messages(chat.chat_id or "") if m.from_id == BOT_ID]
    )


def test_a_wrong_client_state_is_ignored(live: Tenant365) -> None:
    live.m365.subscriptions.tick()
    live.graph.notifier.enabled = False
    asked = live.in_channel(KARI, "!baerekraft meld på")
    sub = next(iter(live.graph.notifier.subscriptions.values()))
    forged = live.graph.notifier.send(sub, [live.graph.notifier.item(sub, asked, client_state="guess")])
    assert forged.status == 202
    live.m365.inbox.process_pending()
    assert live.m365.inbox.ignored == 1
    assert replies_to(live, asked.id) == []


def test_the_answer_is_202_at_once_while_the_work_waits(live: Tenant365) -> None:
    live.m365.subscriptions.tick()
    release = threading.Event()
    original = live.m365.inbox.on_changes

    def slow(items: list[dict[str, Any]]) -> None:
        release.wait(10)
        original(items)

    live.m365.inbox.on_changes = slow
    asked = live.in_channel(KARI, "!baerekraft meld på")
    second = live.in_channel(KARI, "!baerekraft status")
    assert [d.status for d in live.graph.notifier.delivered] == [202, 202]
    assert replies_to(live, asked.id) == []
    release.set()
    assert wait_for(lambda: replies_to(live, second.id))


def test_subscriptions_are_renewed_before_they_expire(live: Tenant365) -> None:
    live.m365.subscriptions.tick()
    before = subscriptions(live)
    live.clock.advance(timedelta(minutes=30))
    live.m365.subscriptions.tick()
    assert all(s.renewals == 0 for s in live.graph.notifier.subscriptions.values())
    live.clock.advance(timedelta(minutes=15))
    live.m365.subscriptions.tick()
    assert all(s.renewals == 1 for s in live.graph.notifier.subscriptions.values())
    assert subscriptions(live) == before


def test_lifecycle_events_are_handled(live: Tenant365) -> None:
    live.m365.subscriptions.tick()
    polled: list[bool] = []
    live.m365.subscriptions.poll_now = lambda: polled.append(True)
    channel = "/teams/team-0001/channels/19:network@thread.tacv2/messages"
    removed = subscriptions(live)[channel]
    live.graph.notifier.lifecycle(removed, "subscriptionRemoved")
    assert wait_for(lambda: subscriptions(live).get(channel) not in (None, removed))
    live.graph.notifier.lifecycle(subscriptions(live)[channel], "reauthorizationRequired")
    assert wait_for(lambda: live.graph.count("POST", "/reauthorize$"))
    live.graph.notifier.lifecycle(subscriptions(live)[channel], "missed")
    assert wait_for(lambda: polled)


def test_an_http_public_base_url_is_refused_once_and_polling_goes_on(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    public = "http://webinar.example.org"
    with tenant365(db_url, ManualClock(NOW), monkeypatch, public_base_url=public) as ms:
        ms.login()
        ms.m365.poll()  # polling starts watching
        caplog.set_level(logging.INFO)
        for _ in range(3):
            ms.m365.subscriptions.tick()
            ms.clock.advance(timedelta(minutes=1))
        # Graph sends notifications only to https: no subscription is even tried, every minute or once.
        assert ms.graph.count("POST", "/subscriptions", successful_only=False) == 0
        refusals = [r for r in caplog.records if "https" in r.getMessage()]
        assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING
        lines = status_lines(ms.m365, check=False)
        assert "notifications: PUBLIC_BASE_URL is not https (Graph requires it): polling only" in lines
        assert channel_state(ms.m365) == "on"  # polling does the work: nothing for an operator to fix now
        ms.in_channel(KARI, "meld på", mention=True)
        assert ms.poll() == 1
