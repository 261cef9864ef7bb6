"""Workspace-level trouble pauses Slack sending: the fan-out waits instead of failing row by row, says so
once (log, /healthz, the organisers through another channel) and resumes by itself when Slack works again."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.delivery import kinds
from bot.entry.composition import App
from bot.entry.server import create_web_app
from bot.models import AuditEvent, Delivery
from handlers.slack.client import sending_client
from handlers.slack.sender import SlackSender
from handlers.slack.settings import SlackSettings
from tests.conftest import ORGANISER
from tests.delivery.helpers import delivery_states
from tests.fakes.recording_sender import RecordingSender
from tests.slack.fakes.slack_api import BOT_TOKEN, FakeSlackAPI, Fault, running_fake
from tests.web.support import TestClient

CHANNEL = "C0ANNOUNCE"
MEMBERS = 40
Say = Callable[..., str]
TOKEN = "operator-health-token-0123"
Trouble = Callable[[FakeSlackAPI], None]


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_channel(CHANNEL, "baerekraft", member=True)
        yield running


@pytest.fixture
def mail(app: App, clock: ManualClock) -> RecordingSender:
    """Another channel the organisers are reached through (as mail would)."""
    other = RecordingSender(clock, channel="mail", posts=False)
    app.delivery.add_sender(other)
    return other


def _slack(app: App, fake: FakeSlackAPI) -> SlackSender:
    settings = SlackSettings(BOT_TOKEN, "signing-secret", None, CHANNEL, fake.url)
    sender = SlackSender(sending_client(settings, timeout=10), settings, app.renderer)
    app.delivery.add_sender(sender)
    return sender


def _members(say: Say, count: int) -> None:
    for i in range(count):
        member = Actor("slack", f"U{i:04d}", email=f"m{i}@kommune.no")
        say(member, "meld på")
        say(member, "dm på")


def _health(app: App) -> dict[str, object]:
    """The operator's /healthz report."""
    with TestClient(
        create_web_app(replace(app, settings=replace(app.settings, health_token=TOKEN)))
    ) as client:
        response = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def _slack_rows(app: App) -> list[Delivery]:
    with app.db.read() as s:
        return list(s.scalars(select(Delivery).where(Delivery.channel == "slack").order_by(Delivery.id)))


def _posts_per_key(fake: FakeSlackAPI) -> Counter[str]:
    return Counter(
        str(m["metadata"]["event_payload"]["key"])
        for messages in fake.workspace.messages.values()
        for m in messages
        if m.get("metadata")
    )


def _audit(app: App) -> list[str]:
    with app.db.read() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("channel.%")))
        return list(actions)


def _revoke(fake: FakeSlackAPI) -> None:
    fake.revoke_token("token_revoked")


def _invalid(fake: FakeSlackAPI) -> None:
    fake.revoke_token("invalid_auth")


def _deactivated(fake: FakeSlackAPI) -> None:
    fake.revoke_token("account_inactive")


def _no_scope(fake: FakeSlackAPI) -> None:
    fake.remove_scope("chat:write")


def _mend(fake: FakeSlackAPI) -> None:
    fake.restore_token()
    fake.restore_scope("chat:write")


@pytest.mark.parametrize(
    ("trouble", "reason", "problem"),
    [
        (_revoke, "token_revoked", "credentials"),
        (_invalid, "invalid_auth", "credentials"),
        (_deactivated, "account_inactive", "credentials"),
        (_no_scope, "missing_scope (chat:write)", "permission"),
    ],
    ids=["token-revoked", "invalid-auth", "bot-deactivated", "scope-removed"],
)
def test_a_workspace_error_mid_fan_out_pauses_slack_and_it_resumes_by_itself(
    app: App,
    fake: FakeSlackAPI,
    mail: RecordingSender,
    clock: ManualClock,
    say: Say,
    caplog: pytest.LogCaptureFixture,
    trouble: Trouble,
    reason: str,
    problem: str,
) -> None:
    _slack(app, fake)
    _members(say, MEMBERS)
    say(ORGANISER, "gi arrangør slack:U0ORG")
    say(ORGANISER, "ny økt 2026-03-09 09:00 Midt i utsendingen")
    app.delivery.plan()
    first = app.delivery.workers["slack"].run_once()  # the first batch goes out
    assert len(_posts_per_key(fake)) == first == 10

    trouble(fake)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        app.delivery.run_until_idle()
        clock.sleep(30)
        app.delivery.run_until_idle()

    # The rest waits: nothing failed, no attempt counted, one call met the trouble.
    rows = _slack_rows(app)
    waiting = [r for r in rows if r.state != "sent"]
    assert len(waiting) == MEMBERS + 1 - first
    assert {(r.state, r.attempts) for r in waiting} == {("pending", 0)}
    refused = [c for c in fake.calls("chat.postMessage") if c.error]
    assert len(refused) == 1
    # One log line says so; none per row.
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and "slack: sending paused" in said[0].getMessage()
    # /healthz: Slack degraded, with the reason.
    health = _health(app)
    assert health["status"] == "degraded"
    assert health["channels"] == {
        "slack": f"degraded: sending paused: {reason} ({problem})",
        "microsoft365": "off",
        "smtp": "off",
        "web": "on",
    }
    [paused] = health["paused"]  # type: ignore[misc]
    assert (paused["channel"], paused["target"], paused["reason"]) == ("slack", None, reason)
    # The organisers are told once, through the other channel, not through Slack.
    notices = [x for x in mail.sent if x.kind == kinds.CHANNEL_DOWN]
    assert [x.target for x in notices] == [f"person:{_person_of(app, 'U0ORG')}"]
    assert "U0ORG" not in fake.workspace.messages
    assert _audit(app) == ["channel.paused"]

    # A minute on, one send probes; Slack still refuses, so the next probe waits longer.
    clock.sleep(31)
    app.delivery.run_until_idle()
    assert len([c for c in fake.calls("chat.postMessage") if c.error]) == 2
    [hold] = app.delivery.paused()
    assert (hold.probe_at - clock.now()).total_seconds() == pytest.approx(120, abs=1)
    assert {(r.state, r.attempts) for r in _slack_rows(app) if r.state != "sent"} == {("pending", 0)}

    # Fixed in Slack: the next probe gets through and everything left goes out, once each.
    _mend(fake)
    clock.sleep(121)
    with caplog.at_level(logging.INFO):
        caplog.clear()
        app.delivery.run_until_idle()
    assert delivery_states(app)["sent"] >= MEMBERS + 1
    assert {r.state for r in _slack_rows(app)} == {"sent"}
    per_key = _posts_per_key(fake)
    assert len(per_key) == MEMBERS + 1 and set(per_key.values()) == {1}
    assert [r.getMessage() for r in caplog.records if "sending again" in r.getMessage()] != []
    health = _health(app)
    assert health["channels"] == {
        "slack": "off",
        "microsoft365": "off",
        "smtp": "off",
        "web": "on",
    }  # (not configured)
    assert "paused" not in health and health["status"] == "ok"
    assert _audit(app) == ["channel.paused", "channel.resumed"]
    assert len([x for x in mail.sent if x.kind == kinds.CHANNEL_DOWN]) == 1  # not again


def test_an_archived_announcement_channel_holds_its_posts_while_direct_messages_go_on(
    app: App, fake: FakeSlackAPI, mail: RecordingSender, clock: ManualClock, say: Say
) -> None:
    _slack(app, fake)
    _members(say, 5)
    say(ORGANISER, "gi arrangør slack:U0ORG")
    fake.archive(CHANNEL)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Arkivert kanal")
    app.delivery.run_until_idle()
    app.delivery.run_until_idle()  # the notice the Slack worker queued, for the mail worker

    assert all(len(fake.messages(f"U{i:04d}")) == 1 for i in range(5))  # the DMs went out
    assert fake.messages(CHANNEL) == []
    [post] = [r for r in _slack_rows(app) if r.target == CHANNEL]
    assert (post.state, post.attempts, post.last_error) == ("pending", 0, "held: is_archived")
    health = _health(app)
    assert health["channels"]["slack"] == (  # type: ignore[index]
        f"degraded: sending paused to {CHANNEL}: is_archived (target_closed)"
    )
    # Slack itself still reaches the organiser directly, and says what to do.
    [notice] = fake.messages("U0ORG")
    assert CHANNEL in notice["text"] and "arkivet" in notice["text"] and "SLACK_CHANNEL_ID" in notice["text"]
    assert [x.kind for x in mail.sent if x.kind == kinds.CHANNEL_DOWN] == [kinds.CHANNEL_DOWN]

    fake.unarchive(CHANNEL)
    clock.sleep(61)
    app.delivery.run_until_idle()
    assert len(fake.messages(CHANNEL)) == 1
    assert app.delivery.paused() == []
    assert _health(app)["channels"]["slack"] == "off"  # type: ignore[index]  # (not configured)


def test_a_direct_message_to_a_gone_user_fails_alone(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    _slack(app, fake)
    _members(say, 3)
    fake.fail("chat.postMessage", Fault())  # the channel post goes first, as it should
    fake.fail("chat.postMessage", Fault(error="user_not_found"))  # then one person's DM
    say(ORGANISER, "ny økt 2026-03-09 09:00 En borte")
    app.delivery.run_until_idle()
    states = Counter(r.state for r in _slack_rows(app))
    assert states == {"sent": 3, "failed": 1}
    assert app.delivery.paused() == []


def _person_of(app: App, slack_id: str) -> int:
    from bot.models import Identity

    with app.db.read() as s:
        found = s.scalar(select(Identity.person_id).where(Identity.external_id == slack_id))
    assert found is not None
    return found
