"""The announcement channel's post about a session is one living message: a change or a cancellation
edits it (chat.update), reminders and the follow-up are replies in its thread, the last reminder is
broadcast to the channel. Direct messages stay separate messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.entry.composition import App
from bot.models import Delivery, Fanout
from handlers.slack.client import sending_client
from handlers.slack.sender import SlackSender
from handlers.slack.settings import SlackSettings
from tests.conftest import ORGANISER
from tests.delivery.helpers import simulate
from tests.slack.fakes.slack_api import BOT_TOKEN, FakeSlackAPI, Fault, running_fake
from tests.slack.fakes.slack_bot import buttons

CHANNEL = "C0ANNOUNCE"
Say = Callable[..., str]
START = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # 09:00 in Oslo


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_channel(CHANNEL, "baerekraft", member=True)
        yield running


@pytest.fixture
def invited(app: App, fake: FakeSlackAPI, say: Say) -> dict[str, Any]:
    """A session whose invitation is in the channel; that post."""
    settings = SlackSettings(BOT_TOKEN, "signing-secret", None, CHANNEL, fake.url)
    app.delivery.add_sender(SlackSender(sending_client(settings), settings, app.renderer))
    say(ORGANISER, "ny økt 2026-03-09 09:00 Sirkulær økonomi; lenke=https://teams.example/m/1")
    app.delivery.run_until_idle()
    [post] = fake.messages(CHANNEL)
    return post


def _text(message: dict[str, Any]) -> str:
    return f"{message['text']} {message['blocks']}"


def _refs(app: App, kind: str) -> list[str | None]:
    with app.db.read() as s:
        rows = s.execute(
            select(Delivery.external_ref)
            .join(Fanout, Fanout.id == Delivery.fanout_id)
            .where(Fanout.kind == kind, Delivery.target == CHANNEL)
        )
        return [ref for (ref,) in rows]


def test_a_change_edits_the_invitation_post_and_says_what_changed(
    app: App, fake: FakeSlackAPI, say: Say, invited: dict[str, Any]
) -> None:
    say(ORGANISER, "endre økt 1 start=2026-03-09 10:00")
    app.delivery.run_until_idle()
    [post] = fake.messages(CHANNEL)  # no second post in the channel
    assert post["ts"] == invited["ts"] and "edited" in post
    assert "flyttet" in _text(post) and "10:00" in _text(post)
    [update] = fake.calls("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (CHANNEL, invited["ts"])
    assert _refs(app, "change") == [f"{CHANNEL}:{invited['ts']}"]


def test_a_cancellation_edits_the_post_and_takes_its_buttons_away(
    app: App, fake: FakeSlackAPI, say: Say, invited: dict[str, Any]
) -> None:
    assert buttons(invited["blocks"])
    say(ORGANISER, "avlys økt 1")
    app.delivery.run_until_idle()
    [post] = fake.messages(CHANNEL)
    assert post["ts"] == invited["ts"] and "avlyst" in _text(post)
    actions = {b["action_id"] for b in buttons(post["blocks"])}
    assert actions.isdisjoint({"subscribe", "open_link"})


def test_reminders_and_the_follow_up_are_replies_the_last_reminder_broadcast(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say, invited: dict[str, Any]
) -> None:
    simulate(app, clock, START)
    say(ORGANISER, "ny lenke 1 https://ks.no/lysark/mars.pdf Lysark mars; foredragsholder=Kari")
    simulate(app, clock, datetime(2026, 3, 12, 8, 0, tzinfo=UTC))
    day_before, hour_before, followup = fake.thread(CHANNEL, invited["ts"])
    assert "Påminnelse" in _text(day_before) and "Påminnelse" in _text(hour_before)
    assert "https://ks.no/lysark/mars.pdf" in _text(followup)
    # The channel shows the invitation and, broadcast from its thread, the last reminder only.
    top = fake.messages(CHANNEL)
    assert [m["ts"] for m in top] == [invited["ts"], hour_before["ts"]]
    assert top[1]["subtype"] == "thread_broadcast"
    posted = [c.params for c in fake.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert [bool(p.get("reply_broadcast")) for p in posted] == [False, True, False]


def test_a_reply_whose_answer_was_lost_is_found_in_the_thread_not_posted_twice(
    app: App, fake: FakeSlackAPI, clock: ManualClock, invited: dict[str, Any]
) -> None:
    fake.fail("chat.postMessage", Fault(status=500, applied=True))
    simulate(app, clock, datetime(2026, 3, 8, 9, 0, tzinfo=UTC))  # the day-before reminder
    assert len(fake.thread(CHANNEL, invited["ts"])) == 1
    assert fake.calls("conversations.replies")
    with app.db.read() as s:
        reminder = s.scalars(
            select(Delivery).join(Fanout).where(Fanout.kind == "reminder", Delivery.target == CHANNEL)
        ).one()
    assert (reminder.state, reminder.in_doubt) == ("sent", True)


def test_without_the_original_post_a_new_one_is_made(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say, invited: dict[str, Any]
) -> None:
    fake.workspace.messages[CHANNEL].clear()  # deleted by someone in the channel
    say(ORGANISER, "endre økt 1 start=2026-03-09 10:00")
    simulate(app, clock, datetime(2026, 3, 8, 10, 0, tzinfo=UTC))
    change, reminder = fake.messages(CHANNEL)
    assert "flyttet" in _text(change) and "Påminnelse" in _text(reminder)
    assert "thread_ts" not in reminder


def test_direct_messages_are_not_edited(
    app: App, fake: FakeSlackAPI, say: Say, invited: dict[str, Any]
) -> None:
    wants = Actor("slack", "U0WANTS", email="wants@kommune.no")
    say(wants, "meld på")
    say(wants, "dm på")
    say(ORGANISER, "avlys økt 1")
    app.delivery.run_until_idle()
    [cancellation] = fake.messages("U0WANTS")
    assert "avlyst" in _text(cancellation) and not fake.thread("U0WANTS", cancellation["ts"])
    assert [c.params["channel"] for c in fake.calls("chat.update")] == [CHANNEL]
