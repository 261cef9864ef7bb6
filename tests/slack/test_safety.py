"""Safety over real HTTP: a bad or stale signature is a 401 with nothing changed; a replayed command
or click acts once; a burst of 429s from Slack is waited out with every answer delivered once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.entry.settings import BotSettings
from bot.inbox import KEEP
from bot.models import AuditEvent, InboundRequest, Person
from handlers.slack import actions as ids
from handlers.slack.channel import SlackChannel
from handlers.slack.intake import request_key
from tests.slack.fakes.slack_bot import KARI, SlackBot, eventually, slack_bot, sqlite_only
from tests.slack.fakes.slack_platform import signed_headers

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        yield running


def nothing_changed(bot: SlackBot) -> None:
    assert bot.fake.calls() == []  # not even a users.info
    with bot.app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
        assert s.scalar(select(func.count()).select_from(InboundRequest)) == 0


def test_a_stale_request_is_refused_with_nothing_changed(bot: SlackBot, clock: ManualClock) -> None:
    body, _ = bot.slack.command_body("meld på", KARI)
    signed_at = int(clock.now().timestamp())
    clock.advance(timedelta(seconds=301))
    answer = bot.slack.send(body, FORM, timestamp=signed_at)
    assert answer.status_code == 401
    nothing_changed(bot)


def test_a_request_within_the_window_is_accepted(bot: SlackBot, clock: ManualClock) -> None:
    body, key = bot.slack.command_body("meld på", KARI)
    signed_at = int(clock.now().timestamp())
    clock.advance(timedelta(seconds=299))
    assert bot.slack.send(body, FORM, timestamp=signed_at).status_code == 200
    assert "påmeldt" in bot.response(key)["text"]


def test_a_wrongly_signed_request_is_refused_with_nothing_changed(
    bot: SlackBot, subtests: pytest.Subtests, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body, _ = bot.slack.command_body("meld på", KARI)
    other, _ = bot.slack.command_body("status", KARI)
    stamp = int(bot.slack.now())
    attempts = {
        "wrong secret": signed_headers("not-the-signing-secret", body, stamp, FORM),
        "tampered body": signed_headers(bot.slack.secret, other, stamp, FORM),
        "no signature": {"Content-Type": FORM},
    }
    for how, headers in attempts.items():
        with subtests.test(how):
            answer = bot.slack.http.post(bot.slack.events_url, content=body, headers=headers)
            assert answer.status_code == 401
            nothing_changed(bot)
    assert "bad or stale signature" in caplog.text
    assert KARI not in caplog.text  # the body (user ids, text) never reaches the log


def test_a_replayed_command_is_applied_once(bot: SlackBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    body, key = bot.slack.command_body("meld på", KARI)
    assert bot.slack.send(body, FORM).status_code == 200
    bot.response(key)
    assert bot.slack.send(body, FORM, headers={"X-Slack-Retry-Num": "1"}).status_code == 200
    eventually(lambda: "seen before" in caplog.text)
    assert len(bot.fake.responses(key)) == 1
    with bot.app.db.read() as s:
        actions = s.scalars(select(AuditEvent.action)).all()
    assert actions == ["subscription.created"]


def test_a_replayed_click_is_applied_once(bot: SlackBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    bot.slack.command("meld på", KARI)
    eventually(lambda: bot.subscribers())
    leave, key = bot.slack.click_body(ids.UNSUBSCRIBE, "baerekraftsfredag", KARI)
    assert bot.slack.send(leave, FORM).status_code == 200
    assert "meldt av" in bot.response(key)["text"]
    _, again = bot.slack.command("meld på", KARI)  # Kari changes her mind...
    assert "påmeldt" in bot.response(again)["text"]
    assert bot.slack.send(leave, FORM).status_code == 200  # ...and the old click is replayed
    eventually(lambda: "seen before" in caplog.text)
    assert bot.subscribers() == ["kari@kommune.no"]
    assert len(bot.fake.responses(key)) == 1


def test_a_burst_of_429s_is_waited_out_and_everything_arrives_once(
    sqlite_template: Path, tmp_path: Path, clock: ManualClock
) -> None:
    with slack_bot(sqlite_only(sqlite_template, tmp_path), clock) as bot:
        burst_of_429s(bot, clock)


def burst_of_429s(bot: SlackBot, clock: ManualClock) -> None:
    bot.slack.home_opened(KARI)  # her App Home is seen: it is published again after the command
    bot.fake.wait_for(lambda: bot.fake.homes(KARI))
    known = len(bot.fake.calls("users.info"))
    clock.advance(timedelta(minutes=11))  # past the cache of who she is
    body, key = bot.slack.command_body("meld på", KARI)
    for method in ("users.info", f"response_url:{key}", "views.publish"):
        bot.fake.rate_limit(method, times=1, retry_after=1)
    assert bot.slack.send(body, FORM).status_code == 200
    assert len(bot.fake.wait_for(lambda: bot.fake.responses(key))) == 1
    assert "påmeldt" in bot.fake.responses(key)[0]["text"]
    slack = bot.app.channel(SlackChannel)
    assert slack is not None
    eventually(lambda: slack.conversation.homes.budget.wait() > 0)  # the 429 holds App Home back
    clock.advance(timedelta(seconds=1))  # views.publish's Retry-After passes on the bot's clock
    home = bot.fake.wait_for(lambda: bot.fake.homes(KARI)[1:])
    assert len(home) == 1
    assert [c.status for c in bot.fake.calls("users.info")][known:] == [429]  # not waited out: by id
    assert [c.status for c in bot.fake.calls("views.publish")] == [200, 429, 200]
    assert [c.status for c in bot.fake.calls(f"response_url:{key}")] == [429, 200]
    assert bot.subscribers() == [KARI]  # subscribed at once, by her Slack id alone
    _, later = bot.slack.command("meld på", KARI)  # her next request learns who she is
    assert "allerede" in bot.response(later)["text"]
    assert bot.subscribers() == ["kari@kommune.no"]


def test_request_ids_are_kept_until_no_platform_replays_them(bot: SlackBot, clock: ManualClock) -> None:
    def first_time(body: dict[str, Any]) -> bool:  # a request without an id is always new
        key = request_key(body)
        return key is None or bot.app.inbox.record("slack", "test", key)

    assert first_time({"event_id": "Ev1"})
    assert not first_time({"event_id": "Ev1"})
    assert first_time({"trigger_id": "1.2.3", "type": "block_actions", "actions": [{"action_id": "a"}]})
    assert first_time({"trigger_id": "1.2.3", "type": "block_actions", "actions": [{"action_id": "b"}]})
    assert first_time({"text": "no id: always new"})
    clock.advance(KEEP + timedelta(seconds=1))
    assert bot.app.inbox.prune() == 3
    assert first_time({"event_id": "Ev1"})  # then the id is forgotten
