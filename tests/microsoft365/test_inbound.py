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
from handlers.microsoft365.client import Auth
from handlers.microsoft365.errors import GraphError
from handlers.microsoft365.inbound_message import Where, read_message
from handlers.microsoft365.teams import READ_CHANNEL
from tests.conftest import NOW
from tests.microsoft365.fakes import graph_teams
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


def test_a_command_typed_as_a_reply_in_a_thread_is_answered_there_once(ms: Tenant365) -> None:
    thread = ms.in_channel(KARI, "Spennende økt på fredag!")
    assert ms.poll() == 0
    ms.clock.advance(timedelta(seconds=5))
    asked = ms.in_channel(JOHN, "!baerekraft subscribe", reply_to=thread.id)
    mentioned = ms.in_channel(KARI, "meld på", mention=True, reply_to=thread.id)
    ms.in_channel(OLA, "Gleder meg, meld på meg også", reply_to=thread.id)  # chatter, not a command
    assert ms.poll() == 2
    bot_answers = answers(ms, thread.id)
    assert len(bot_answers) == 2 and "subscribed" in bot_answers[0] and "påmeldt" in bot_answers[1]
    assert active_subscribers(ms) == [("john@example.org", "en"), ("kari@kommune.no", "nb")]
    assert {asked.id, mentioned.id} <= {m.id for m in ms.graph.tenant.replies(thread.id)}
    assert ms.poll() == 0  # read again next time: carried out once
    assert len(answers(ms, thread.id)) == 2
    # Hours later the old replies are still listed, but their writers are not looked up again.
    ms.clock.advance(timedelta(seconds=90))
    ms.poll()  # the replies of the last read's minute of overlap, once more
    ms.clock.advance(timedelta(hours=2))
    lookups = ms.graph.count("POST", r"/\$batch$") + ms.graph.count("GET", "^/users/")
    assert ms.poll() == 0
    assert ms.graph.count("POST", r"/\$batch$") + ms.graph.count("GET", "^/users/") == lookups


def test_a_thread_with_more_replies_than_one_expansion_holds_is_read_to_its_end(
    ms: Tenant365, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_teams, "MOST_EXPANDED", 3)  # Graph's 1000, made small
    thread = ms.in_channel(KARI, "Hei")
    for n in range(4):
        ms.in_channel(KARI, f"takk {n}", reply_to=thread.id)
    ms.in_channel(JOHN, "!baerekraft subscribe", reply_to=thread.id)  # the sixth, past the expansion
    assert ms.poll() == 1
    assert active_subscribers(ms) == [("john@example.org", "en")]


def test_replies_from_before_the_bot_watched_are_not_carried_out(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as ms:
        ms.login()
        thread = ms.in_channel(KARI, "Hei")
        ms.in_channel(KARI, "!baerekraft meld på", reply_to=thread.id)
        ms.clock.advance(timedelta(seconds=5))
        assert ms.poll() == 0
        assert ms.poll() == 0
        assert active_subscribers(ms) == []


def test_the_fake_lists_a_channel_as_graph_does(ms: Tenant365) -> None:
    """Graph: the delta and the plain listing give root messages only; replies come with
    `$expand=replies` (up to 1000 a thread, then `replies@odata.nextLink`) or from `/replies`;
    a page holds at most 50 threads (`$top`), a replies page at most 50; no $filter on a listing."""
    thread = ms.in_channel(KARI, "Hei")
    for n in range(3):
        ms.in_channel(JOHN, f"svar {n}", reply_to=thread.id)
    client, path = ms.m365.client, ms.m365.teams.channel_path
    user = Auth.USER
    delta = list(client.items(f"{path}/messages/delta", auth=user, permission=READ_CHANNEL))
    assert [m["id"] for m in delta] == [thread.id] and "replies" not in delta[0]
    plain = client.call("GET", f"{path}/messages", auth=user, permission=READ_CHANNEL).object()
    assert [m["id"] for m in plain["value"]] == [thread.id] and "replies" not in plain["value"][0]
    params = {"$top": "50", "$expand": "replies"}
    expanded = client.call("GET", f"{path}/messages", auth=user, permission=READ_CHANNEL, params=params)
    [root] = expanded.object()["value"]
    assert [r["replyToId"] for r in root["replies"]] == [thread.id] * 3
    replies = client.items(
        f"{path}/messages/{thread.id}/replies", auth=user, permission=READ_CHANNEL, params={"$top": "2"}
    )
    assert len(list(replies)) == 3  # two pages
    for bad in ({"$top": "51"}, {"$filter": "lastModifiedDateTime gt 2026-01-01T00:00:00Z"}):
        with pytest.raises(GraphError) as refused:
            client.call("GET", f"{path}/messages", auth=user, permission=READ_CHANNEL, params=bad)
        assert refused.value.status == 400
    with pytest.raises(GraphError):
        client.call(
            "GET",
            f"{path}/messages/{thread.id}/replies",
            auth=user,
            permission=READ_CHANNEL,
            params={"$top": "51"},
        )


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
