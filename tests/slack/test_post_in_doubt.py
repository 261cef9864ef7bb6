"""A post whose answer was lost, checked in the history before it is sent again, as real Slack lets
the bot see it: the bot joins its announcement channel; where the history stays hidden (a missing
scope, a channel it is not in) the post is sent again and that is said, never left stuck; a passing
failure of the check is retried."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.entry.composition import App, build
from bot.models import AuditEvent, Delivery
from handlers.slack.announcement import join_announcement_channel
from handlers.slack.channel import SlackChannel
from handlers.slack.client import make_web_client, sending_client
from handlers.slack.sender import SlackSender
from handlers.slack.settings import SlackSettings
from tests.conftest import ORGANISER
from tests.slack.fakes.slack_api import BOT_TOKEN, FakeSlackAPI, Fault, running_fake
from tests.slack.fakes.slack_bot import sqlite_only
from tests.slack.fakes.slack_platform import SIGNING_SECRET

CHANNEL, SECRET = "C0ANNOUNCE", "C0SECRET"
Say = Callable[..., str]
LOST = Fault(status=500, applied=True)  # posted, but the answer never came back


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_channel(CHANNEL, "baerekraft")  # public; the bot was never added
        running.add_channel(SECRET, "arrangorer", private=True)
        yield running


def settings_for(fake: FakeSlackAPI, channel: str = CHANNEL) -> SlackSettings:
    return SlackSettings(BOT_TOKEN, SIGNING_SECRET, None, channel, fake.url)


def attach_sender(app: App, fake: FakeSlackAPI) -> None:
    settings = settings_for(fake)
    app.delivery.add_sender(SlackSender(sending_client(settings), settings, app.renderer))


def lose_the_answer_and_retry(app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say) -> Delivery:
    """A new session's invitation to the channel; the answer to its post is lost; a minute later
    the engine tries again. The row as it ends."""
    fake.fail("chat.postMessage", LOST)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Borte svar")
    app.delivery.run_until_idle()
    clock.sleep(60)
    app.delivery.run_until_idle()
    with app.db.read() as s:
        return s.scalars(select(Delivery).where(Delivery.target == CHANNEL)).one()


def sent_again_note(error: str) -> str:
    return f"sent again: whether the first attempt went out could not be checked ({error})"


def audit_reason(app: App, row: Delivery) -> object:
    with app.db.read() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "delivery.sent", AuditEvent.subject_id == row.id)
        ).one()
        return event.details.get("reason")


def test_joined_at_start_the_bot_finds_its_post_and_does_not_post_again(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    assert join_announcement_channel(make_web_client(settings_for(fake)), CHANNEL)
    attach_sender(app, fake)
    row = lose_the_answer_and_retry(app, fake, clock, say)
    assert len(fake.messages(CHANNEL)) == 1
    assert (row.state, row.in_doubt) == ("sent", True)
    assert [c.error for c in fake.calls("conversations.history")] == [None]


def test_a_channel_the_bot_is_not_in_hides_the_history_so_the_post_is_sent_again_and_said_so(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say, caplog: pytest.LogCaptureFixture
) -> None:
    attach_sender(app, fake)
    row = lose_the_answer_and_retry(app, fake, clock, say)
    assert [c.error for c in fake.calls("conversations.history")] == ["not_in_channel"]
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, sent_again_note("not_in_channel"))
    assert len(fake.messages(CHANNEL)) == 2  # the first went out after all: a second copy, not silent
    assert audit_reason(app, row) == sent_again_note("not_in_channel")
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING and "sent again" in r.getMessage()]
    assert f"delivery {row.id}" in warning.getMessage()


def test_a_dm_without_im_history_is_sent_again_not_stuck(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    fake.revoke("im:history")  # installed before the scope was asked for
    attach_sender(app, fake)
    member = Actor("slack", "U0WANTS", email="wants@kommune.no")
    say(member, "meld på")
    say(member, "dm på")
    fake.fail("chat.postMessage", LOST, times=2)  # the channel's post and the DM
    say(ORGANISER, "ny økt 2026-03-09 09:00 Borte svar")
    app.delivery.run_until_idle()
    clock.sleep(60)
    app.delivery.run_until_idle()
    with app.db.read() as s:
        row = s.scalars(select(Delivery).where(Delivery.target == "U0WANTS")).one()
    assert "missing_scope" in [c.error for c in fake.calls("conversations.history")]
    assert (row.state, row.last_error) == ("sent", sent_again_note("missing_scope"))
    assert len(fake.messages("U0WANTS")) == 2


@pytest.mark.parametrize("error", ["missing_scope", "not_in_channel", "channel_not_found"])
def test_every_answer_no_retry_can_change_resolves_the_post(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say, error: str
) -> None:
    fake.invite_bot(CHANNEL)
    attach_sender(app, fake)
    fake.fail("conversations.history", Fault(error=error))
    row = lose_the_answer_and_retry(app, fake, clock, say)
    assert (row.state, row.last_error) == ("sent", sent_again_note(error))


@pytest.mark.parametrize(
    ("fault", "error", "attempts"),
    [
        (Fault(status=503), "Slack history unavailable: HTTP 503", 2),
        (Fault(status=429, retry_after=30), "throttled: Slack rate limit on conversations.history", 1),
    ],
    ids=["503", "429"],
)
def test_a_passing_failure_of_the_check_is_checked_again_later(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say, fault: Fault, error: str, attempts: int
) -> None:
    fake.invite_bot(CHANNEL)
    attach_sender(app, fake)
    fake.fail("conversations.history", fault)
    row = lose_the_answer_and_retry(app, fake, clock, say)
    assert (row.state, row.in_doubt, row.attempts, row.last_error) == ("pending", True, attempts, error)
    clock.sleep(120)
    app.delivery.run_until_idle()
    with app.db.read() as s:
        again = s.get(Delivery, row.id)
        assert again is not None and again.state == "sent"
    assert len(fake.messages(CHANNEL)) == 1  # found in the history the second time: not posted again


# --- joining the announcement channel when the bot starts --------------------------------------------


def test_the_bot_joins_its_public_announcement_channel_when_it_starts(
    fake: FakeSlackAPI, sqlite_template: Path, tmp_path: Path, clock: ManualClock
) -> None:
    from dataclasses import replace

    settings = replace(sqlite_only(sqlite_template, tmp_path), slack=settings_for(fake))
    app = build(settings, clock=clock, migrate=False)
    try:
        slack = app.channel(SlackChannel)
        assert slack is not None
        slack.start()
        fake.wait_for(lambda: fake.is_member(CHANNEL))
    finally:
        app.close()


def test_a_private_channel_the_bot_was_not_invited_to_is_one_clear_line(
    fake: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_web_client(settings_for(fake, SECRET))
    assert join_announcement_channel(client, SECRET) is False
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "invite @baerekraft to the channel" in line.getMessage() and SECRET in line.getMessage()
    assert line.exc_info is None
    fake.invite_bot(SECRET)
    caplog.clear()
    assert join_announcement_channel(client, SECRET) is True  # private, and the bot is in it
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_joining_again_is_quiet_and_a_missing_scope_says_what_to_do(
    fake: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_web_client(settings_for(fake))
    assert join_announcement_channel(client, CHANNEL) and join_announcement_channel(client, CHANNEL)
    assert [c.error for c in fake.calls("conversations.join")] == [None, None]
    fake.revoke("channels:join")
    fake.add_channel("C0OTHER")
    assert join_announcement_channel(client, "C0OTHER") is False
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "channels:join" in line.getMessage()
