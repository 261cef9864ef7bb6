"""The fake Slack holds the bot to Slack's rules: the scopes of its token per method, which
conversations it is a member of (what it may post in, read, and join), and the rate limits of
Tier 4 methods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.slack.fakes.slack_api import FakeSlackAPI, running_fake
from tests.slack.fakes.slack_methods import METHODS
from tests.slack.fakes.slack_scopes import METHOD_SCOPES, manifest_bot_scopes
from tests.slack.fakes.slack_tiers import TIER_4

PUBLIC, PRIVATE = "C0PUBLIC", "C0SECRET"
# What these tests grant the bot (the manifest's own set is tested in test_manifest.py).
SCOPES = (
    "chat:write",
    "chat:write.public",
    "im:write",
    "channels:history",
    "groups:history",
    "im:history",
    "channels:join",
    "users:read",
    "users:read.email",
)


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake(scopes=SCOPES, clock=lambda: 0.0) as running:  # Slack's time moves by `advance`
        running.add_user("U1", "Kari Nordmann", email="kari@kommune.no")
        running.add_user("U2", "John Smith")
        running.add_channel(PUBLIC, "baerekraft")
        running.add_channel(PRIVATE, "arrangorer", private=True)
        yield running


def call(fake: FakeSlackAPI, method: str, **params: Any) -> dict[str, Any]:
    answer = httpx.post(fake.url + method, json=params, headers={"Authorization": f"Bearer {fake.token}"})
    body: dict[str, Any] = answer.json()
    return body


def test_every_method_the_fake_answers_has_its_scopes_written_down() -> None:
    assert set(METHODS) == set(METHOD_SCOPES)


def test_by_default_the_token_holds_the_manifests_bot_scopes() -> None:
    with running_fake() as fake:
        assert fake.workspace.scopes == manifest_bot_scopes()


@pytest.mark.parametrize(
    ("method", "params", "needed"),
    [
        ("chat.postMessage", {"channel": PUBLIC, "text": "Hei"}, "chat:write"),
        ("chat.update", {"channel": PUBLIC, "ts": "1.1", "text": "Hei"}, "chat:write"),
        ("chat.postEphemeral", {"channel": PUBLIC, "user": "U1", "text": "Hei"}, "chat:write"),
        ("conversations.open", {"users": "U1"}, "im:write"),
        ("conversations.open", {"users": "U1,U2"}, "mpim:write"),
        ("conversations.join", {"channel": PUBLIC}, "channels:join"),
        ("users.info", {"user": "U1"}, "users:read"),
        ("users.list", {}, "users:read"),
    ],
)
def test_a_call_without_its_scope_is_refused_as_slack_refuses_it(
    fake: FakeSlackAPI, method: str, params: dict[str, Any], needed: str
) -> None:
    fake.workspace.scopes = frozenset({"commands", "incoming-webhook"})
    assert call(fake, method, **params) == {
        "ok": False,
        "error": "missing_scope",
        "needed": needed,
        "provided": "commands,incoming-webhook",
    }


def test_the_history_scope_depends_on_the_kind_of_conversation(fake: FakeSlackAPI) -> None:
    fake.invite_bot(PUBLIC)
    fake.invite_bot(PRIVATE)
    dm = call(fake, "conversations.open", users="U1")["channel"]["id"]
    fake.workspace.scopes = frozenset({"chat:write", "im:write"})
    needed = {c: call(fake, "conversations.history", channel=c).get("needed") for c in (PUBLIC, PRIVATE, dm)}
    assert needed == {PUBLIC: "channels:history", PRIVATE: "groups:history", dm: "im:history"}
    fake.grant("channels:history", "groups:history", "im:history")
    assert all(call(fake, "conversations.history", channel=c)["ok"] for c in (PUBLIC, PRIVATE, dm))


def test_a_public_channel_takes_posts_from_outside_only_with_chat_write_public(fake: FakeSlackAPI) -> None:
    assert call(fake, "chat.postMessage", channel=PUBLIC, text="Hei")["ok"]
    fake.revoke("chat:write.public")
    assert call(fake, "chat.postMessage", channel=PUBLIC, text="Hei")["error"] == "not_in_channel"
    assert call(fake, "chat.postMessage", channel="C0NOWHERE", text="Hei")["error"] == "channel_not_found"


def test_a_private_channel_is_out_of_sight_until_the_bot_is_invited(fake: FakeSlackAPI) -> None:
    assert call(fake, "chat.postMessage", channel=PRIVATE, text="Hei")["error"] == "channel_not_found"
    assert call(fake, "conversations.history", channel=PRIVATE)["error"] == "channel_not_found"
    assert call(fake, "conversations.join", channel=PRIVATE)["error"] == "channel_not_found"
    fake.invite_bot(PRIVATE)
    assert call(fake, "chat.postMessage", channel=PRIVATE, text="Hei")["ok"]
    assert (
        call(fake, "conversations.join", channel=PRIVATE)["error"] == "method_not_supported_for_channel_type"
    )
    assert [m["text"] for m in call(fake, "conversations.history", channel=PRIVATE)["messages"]] == ["Hei"]


def test_the_history_of_a_public_channel_needs_the_bot_in_it(fake: FakeSlackAPI) -> None:
    posted = call(fake, "chat.postMessage", channel=PUBLIC, text="Hei")
    assert call(fake, "conversations.history", channel=PUBLIC)["error"] == "not_in_channel"
    joined = call(fake, "conversations.join", channel=PUBLIC)
    assert joined["ok"] and joined["channel"]["is_member"] and "warning" not in joined
    assert fake.is_member(PUBLIC)
    assert call(fake, "conversations.join", channel=PUBLIC)["warning"] == "already_in_channel"
    assert call(fake, "conversations.history", channel=PUBLIC)["messages"][0]["ts"] == posted["ts"]
    replies = call(fake, "conversations.replies", channel=PUBLIC, ts=posted["ts"])
    assert [m["text"] for m in replies["messages"]] == ["Hei"]


def test_a_direct_message_is_a_conversation_of_its_own(fake: FakeSlackAPI) -> None:
    posted = call(fake, "chat.postMessage", channel="U1", text="Hei")
    opened = call(fake, "conversations.open", users="U1")["channel"]["id"]
    assert posted["channel"] == opened == fake.dm("U1") and opened.startswith("D")
    assert call(fake, "conversations.history", channel="U1")["error"] == "channel_not_found"
    assert [m["text"] for m in call(fake, "conversations.history", channel=opened)["messages"]] == ["Hei"]
    assert fake.messages("U1") == fake.messages(opened) and set(fake.posted()) == {"U1"}


def test_the_email_is_shown_only_with_users_read_email(fake: FakeSlackAPI) -> None:
    assert call(fake, "users.info", user="U1")["user"]["profile"]["email"] == "kari@kommune.no"
    fake.revoke("users:read.email")
    assert "email" not in call(fake, "users.info", user="U1")["user"]["profile"]
    assert all("email" not in m["profile"] for m in call(fake, "users.list")["members"])


def test_a_deactivated_user_is_still_a_user_and_still_gets_dms(fake: FakeSlackAPI) -> None:
    """As on Slack: chat.postMessage to a deactivated user may still answer ok."""
    changed = fake.deactivate("U1")
    assert changed["deleted"] is True and call(fake, "users.info", user="U1")["user"]["deleted"] is True
    assert call(fake, "chat.postMessage", channel="U1", text="Hei")["ok"]


# --- Slack's tiers: users.info and views.publish are Tier 4 ------------------------------------------

HOME = {"type": "home", "blocks": []}


@pytest.mark.parametrize(
    ("method", "params"), [("users.info", {"user": "U1"}), ("views.publish", {"user_id": "U1", "view": HOME})]
)
def test_a_tier_4_method_takes_a_burst_then_100_a_minute_then_429_with_retry_after(
    fake: FakeSlackAPI, method: str, params: dict[str, Any]
) -> None:
    assert all(call(fake, method, **params)["ok"] for _ in range(TIER_4.burst))
    answer = httpx.post(fake.url + method, json=params, headers={"Authorization": f"Bearer {fake.token}"})
    refused = (answer.status_code, answer.json()["error"], answer.headers["Retry-After"])
    assert refused == (429, "ratelimited", "1")
    assert [c.status for c in fake.calls(method)][-2:] == [200, 429]
    fake.advance(60 / TIER_4.per_minute)  # one more call's worth of time passes
    assert call(fake, method, **params)["ok"]
    assert call(fake, method, **params)["error"] == "ratelimited"
    fake.advance(60)  # a quiet minute fills the burst again, no more
    assert sum(call(fake, method, **params)["ok"] for _ in range(TIER_4.burst + 1)) == TIER_4.burst


def test_each_tier_4_method_has_a_limit_of_its_own_and_others_have_none(fake: FakeSlackAPI) -> None:
    for _ in range(TIER_4.burst):
        call(fake, "users.info", user="U1")
    assert call(fake, "users.info", user="U1")["error"] == "ratelimited"
    assert call(fake, "views.publish", user_id="U1", view=HOME)["ok"]
    assert all(call(fake, "conversations.open", users="U1")["ok"] for _ in range(2 * TIER_4.burst))


def test_the_tiers_scale_with_a_scaled_bench() -> None:
    with running_fake(tier_scale=60, clock=lambda: 0.0) as fake:  # a minute's calls in a second
        fake.add_user("U1", "Kari Nordmann")
        for _ in range(TIER_4.burst + 1):
            call(fake, "users.info", user="U1")
        assert fake.calls("users.info")[-1].status == 429
        fake.advance(1.0)
        assert all(call(fake, "users.info", user="U1")["ok"] for _ in range(TIER_4.burst))
