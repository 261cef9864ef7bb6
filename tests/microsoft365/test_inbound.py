"""Commands from Teams by polling (handlers.microsoft365.delta, inbound): the channel's delta query and
the 1:1 chats, recorded in the inbox, carried out through the core's dispatcher, answered in the
thread or chat, each message carried out once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.models import AuditEvent, Identity, Person, Subscription
from handlers.microsoft365.inbound_message import Where, read_message
from tests.conftest import NOW
from tests.microsoft365.support import BOT_ID, JOHN, KARI, OLA, Tenant365, tenant365


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        tenant.login()
        tenant.poll()  # start watching: the cursors are set, nothing older is carried out
        tenant.clock.advance(timedelta(seconds=5))
        yield tenant


def answers(ms: Tenant365, thread_id: str) -> list[str]:
    return [m.html for m in ms.graph.tenant.replies(thread_id) if m.from_id == BOT_ID]


def active_subscribers(ms: Tenant365) -> list[tuple[str | None, str | None]]:
    with ms.app.db.read() as s:
        rows = s.execute(
            select(Person.email, Person.language)
            .join(Subscription, Subscription.person_id == Person.id)
            .where(Subscription.active.is_(True))
            .order_by(Person.id)
        )
        return [(email, language) for email, language in rows]


def test_a_prefixed_channel_message_is_a_command_answered_in_its_thread(ms: Tenant365) -> None:
    asked = ms.in_channel(KARI, "!baerekraft meld på")
    assert ms.poll() == 1
    [answer] = answers(ms, asked.id)
    assert "påmeldt" in answer
    # The directory vouches for the address: the same person as a mail subscriber, in her language.
    assert active_subscribers(ms) == [("kari@kommune.no", "nb")]
    with ms.app.db.read() as s:
        assert s.scalar(select(Identity.external_id).where(Identity.platform == "teams")) == KARI


def test_a_mention_is_a_command_too_and_other_chatter_is_not(ms: Tenant365) -> None:
    asked = ms.in_channel(JOHN, "subscribe", mention=True)
    ms.in_channel(KARI, "Takk for en fin økt, meld på flere slike!")
    ms.in_channel(KARI, "!baerekraftsfredag er best")  # not the prefix followed by a space
    assert ms.poll() == 1
    [answer] = answers(ms, asked.id)
    assert "subscribed" in answer
    assert active_subscribers(ms) == [("john@example.org", "en")]


def test_the_bot_never_reacts_to_its_own_messages(ms: Tenant365) -> None:
    ms.m365.teams.post_to_channel("!baerekraft meld på", "<p>!baerekraft meld på</p>")
    asked = ms.in_channel(KARI, "!baerekraft hjelp")
    ms.poll()
    ms.poll()
    [answer] = answers(ms, asked.id)
    assert "!baerekraft" in answer  # the help names the prefix; the answer itself is not a command
    assert active_subscribers(ms) == []


def test_messages_from_before_the_bot_watched_are_not_carried_out(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as ms:
        ms.login()
        ms.in_channel(KARI, "!baerekraft meld på")
        ms.clock.advance(timedelta(seconds=5))
        assert ms.poll() == 0
        assert ms.poll() == 0
        assert active_subscribers(ms) == []


def test_a_message_is_carried_out_once_however_often_it_is_seen(ms: Tenant365) -> None:
    ms.in_channel(KARI, "!baerekraft meld på")
    ms.poll()
    leave = ms.in_channel(KARI, "!baerekraft meld av")
    assert ms.poll() == 1
    raw = next(m for m in ms.graph.tenant.channel_posts() if m.id == leave.id).json()
    assert ms.m365.inbound.handle(raw) is False  # seen again (a notification, an edit in the delta)
    leave.seq = ms.graph.tenant.next_seq()  # edited: back in the delta
    assert ms.poll() == 0
    assert len(answers(ms, leave.id)) == 1
    with ms.app.db.read() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "subscription.ended")) == 1


def test_a_one_to_one_chat_needs_no_prefix(ms: Tenant365) -> None:
    chat = ms.in_chat(JOHN, "status")
    ms.in_chat(OLA, "meld på")
    assert ms.poll() == 2
    replies = [m.html for m in ms.graph.tenant.chat_messages(chat.chat_id or "") if m.from_id == BOT_ID]
    assert len(replies) == 1 and "not subscribed" in replies[0]
    assert ms.poll() == 0
    # Ola has no address in the directory: subscribed by his Teams identity alone.
    with ms.app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Subscription)) == 1


def test_an_expired_delta_link_is_read_afresh_and_nothing_is_lost_or_repeated(ms: Tenant365) -> None:
    ms.in_channel(KARI, "!baerekraft meld på")
    ms.poll()
    ms.graph.notifier.expire_delta_tokens()
    ms.clock.advance(timedelta(seconds=5))
    leave = ms.in_channel(KARI, "!baerekraft meld av")
    assert ms.poll() == 0  # the link is refused
    assert ms.poll() == 1  # read afresh from the last good read: only the new message counts
    assert len(answers(ms, leave.id)) == 1
    assert active_subscribers(ms) == []


def test_reading_waits_for_a_login(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as ms:
        assert ms.poll() == 0
        assert [c for c in ms.graph.calls if c.token == "user"] == []


def read(raw: dict[str, object], *, one_on_one: bool = False) -> str | None:
    where = Where(lambda: BOT_ID, "!baerekraft", "team-0001", "19:network@thread.tacv2", lambda _: one_on_one)
    found = read_message(raw, where)
    return found.text if found else None


def channel_message(html: str, sender: str = KARI, **extra: object) -> dict[str, object]:
    return {
        "id": "1",
        "messageType": "message",
        "from": {"user": {"id": sender, "displayName": "Kari"}},
        "body": {"contentType": "html", "content": html},
        "channelIdentity": {"teamId": "team-0001", "channelId": "19:network@thread.tacv2"},
        **extra,
    }


def test_reading_messages() -> None:
    assert read(channel_message("<p>!Baerekraft  meld&nbsp;på</p>")) == "meld på"
    assert read(channel_message("<p>!baerekraft</p>")) == ""  # the help
    mention = {"id": 0, "mentioned": {"user": {"id": BOT_ID}}}
    assert read(channel_message('<p><at id="0">Bot</at> neste</p>', mentions=[mention])) == "neste"
    other = {"id": 0, "mentioned": {"user": {"id": JOHN}}}
    assert read(channel_message('<p><at id="0">John</at> neste</p>', mentions=[other])) is None
    assert read(channel_message("<p>!baerekraft neste</p>", sender=BOT_ID)) is None
    assert read(channel_message("<p>!baerekraft neste</p>", messageType="systemEventMessage")) is None
    assert (
        read(channel_message("<p>!baerekraft neste</p>", channelIdentity={"teamId": "x", "channelId": "y"}))
        is None
    )
    chat = {**channel_message("<p>arkiv</p>"), "chatId": "19:chat"}
    assert read(chat, one_on_one=True) == "arkiv"
    assert read(chat, one_on_one=False) is None
