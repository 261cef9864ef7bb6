"""App Home and the subscribe buttons, end to end: the reader's next session in their own time zone,
their subscription with a button that works from App Home and from any message, past sessions with
slides, a refresh after every click for a reader whose Home is seen (and none for others), one
refresh for several commands, a 429 that holds nobody up, and a retried event handled once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.clock import ManualClock
from bot.commands import AddLink, GrantOrganiser
from bot.entry.settings import BotSettings
from bot.models import Subscription
from handlers.slack import actions as ids
from handlers.slack.channel import SlackChannel
from handlers.slack.conversation import SlackConversation
from handlers.slack.home_publisher import HomePublisher
from handlers.slack.identity import SlackUser
from handlers.slack.models import SlackHome
from tests.conftest import ORGANISER
from tests.slack.fakes.slack_bot import (
    JOHN,
    KARI,
    SlackBot,
    buttons,
    eventually,
    mrkdwn_texts,
    plan,
    slack_bot,
)

SLUG = "baerekraftsfredag"


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        yield running


@pytest.fixture
def sessions(bot: SlackBot, clock: ManualClock) -> dict[str, int]:
    """A session held this morning (with its slides) and the next one, on Friday at 09:00 in Oslo."""
    held = plan(bot.app, "Sirkulær økonomi", "2026-03-04 12:00", foredragsholdere="Ola")
    clock.advance(timedelta(hours=3))  # now 13:00 UTC, 14:00 in Oslo: the morning's session is over
    bot.app.dispatcher.execute(ORGANISER, AddLink(held, "https://ks.no/lysark.pdf", "Lysark", "Ola"))
    upcoming = plan(bot.app, "Klimatilpasning", "2026-03-06 09:00", lenke="https://teams.example/m/1")
    return {"held": held, "next": upcoming}


def home_of(bot: SlackBot, user: str, count: int = 1) -> dict[str, Any]:
    """The `count`-th App Home published for `user` (waits for it)."""
    return bot.fake.wait_for(lambda: bot.fake.homes(user)[count - 1 :])[0]


def test_home_shows_the_next_session_in_the_readers_zone_and_past_slides(
    bot: SlackBot, sessions: dict[str, int]
) -> None:
    assert bot.slack.home_opened(JOHN).status_code == 200
    home = home_of(bot, JOHN)
    text = "\n".join(mrkdwn_texts(home))
    assert "*Klimatilpasning*" in text
    assert "Friday 6 March 2026 at 03:00–04:00" in text  # 09:00 in Oslo is 03:00 in New York
    assert "Join: <https://teams.example/m/1>" in text
    assert "*Sirkulær økonomi* – Wednesday 4 March 2026" in text
    assert "• <https://ks.no/lysark.pdf|Lysark> (Ola)" in text
    assert "America/New_York" in text
    assert "You are not subscribed to *Bærekraftsfredag*" in text
    found = {b["action_id"]: b for b in buttons(home)}
    assert found[ids.SUBSCRIBE]["value"] == SLUG
    assert found[ids.OPEN_LINK]["url"] == "https://teams.example/m/1"
    assert ids.PLAN_SESSION not in found and ids.EDIT_SESSION not in found  # not an organiser


def test_a_norwegian_reader_sees_oslo_time(bot: SlackBot, sessions: dict[str, int]) -> None:
    bot.slack.home_opened(KARI)
    text = "\n".join(mrkdwn_texts(home_of(bot, KARI)))
    assert "fredag 6. mars 2026 kl. 09:00–10:00" in text
    assert "Bli med: <https://teams.example/m/1>" in text


def test_a_subscribe_button_in_a_message_answers_and_refreshes_a_home_opened_before(
    bot: SlackBot,
) -> None:
    bot.slack.home_opened(KARI)
    assert [b["action_id"] for b in buttons(home_of(bot, KARI, 1))] == [ids.SUBSCRIBE]
    answer, key = bot.slack.click(ids.SUBSCRIBE, SLUG, KARI, where="message")
    assert (answer.status_code, answer.text) == (200, "")
    reply = bot.response(key)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "Du er nå påmeldt Bærekraftsfredag" in reply["text"]
    assert bot.subscribers() == ["kari@kommune.no"]
    home = home_of(bot, KARI, 2)
    assert [b["action_id"] for b in buttons(home)] == [ids.UNSUBSCRIBE, ids.DIRECT_ON]
    assert "Du er påmeldt *Bærekraftsfredag*" in "\n".join(mrkdwn_texts(home))


def test_no_home_is_published_for_one_who_never_opened_it(bot: SlackBot) -> None:
    _, key = bot.slack.click(ids.SUBSCRIBE, SLUG, KARI, where="message")
    _, typed = bot.slack.command("dm på", KARI)
    assert "påmeldt" in bot.response(key)["text"] and bot.response(typed)
    conversation(bot).close()  # every answer and App Home still queued goes out first
    assert bot.subscribers() == ["kari@kommune.no"]
    assert bot.fake.calls("views.publish") == []


def test_that_a_home_was_opened_holds_for_every_process_and_after_a_restart(bot: SlackBot) -> None:
    bot.slack.home_opened(KARI)
    home_of(bot, KARI, 1)
    with bot.app.db.read() as s:
        assert s.scalars(select(SlackHome.user_id)).all() == [KARI]
    other = HomePublisher(
        bot.app.db, bot.app.clock, conversation(bot).homes.api, lambda _: {}, bot.app.errors
    )
    assert other.seen(KARI) and not other.seen(JOHN)  # a process of its own reads it from the database


def test_a_click_on_the_home_tab_refreshes_it_and_is_remembered(bot: SlackBot) -> None:
    bot.slack.click(ids.SUBSCRIBE, SLUG, KARI, where="home")  # no app_home_opened seen (older than that)
    assert ids.UNSUBSCRIBE in [b["action_id"] for b in buttons(home_of(bot, KARI, 1))]
    _, key = bot.slack.click(ids.UNSUBSCRIBE, SLUG, KARI, where="message")
    assert "meldt av" in bot.response(key)["text"]
    assert ids.SUBSCRIBE in [b["action_id"] for b in buttons(home_of(bot, KARI, 2))]


def test_commands_finishing_together_publish_the_home_once_with_the_last_state(bot: SlackBot) -> None:
    inside, release = threading.Event(), threading.Event()
    states: list[str] = []
    homes = conversation(bot).homes

    def view(user: SlackUser) -> dict[str, Any]:
        states.append(user.name or "")
        inside.set()
        release.wait(10)
        return {"type": "home", "blocks": []}

    publisher = HomePublisher(bot.app.db, bot.app.clock, homes.api, view, bot.app.errors)
    publisher.refresh(SlackUser(KARI, name="first"), on_home=True)
    assert inside.wait(10)  # the first is being published...
    for name in ("second", "third", "fourth"):  # ...while three more commands finish
        publisher.refresh(SlackUser(KARI, name=name))
    publisher.refresh(SlackUser(JOHN, name="john"), on_home=True)
    release.set()
    publisher.close()
    assert states == ["first", "fourth", "john"]
    assert [c.params["user_id"] for c in bot.fake.calls("views.publish")] == [KARI, KARI, JOHN]


def test_homes_queued_meanwhile_are_looked_up_together(bot: SlackBot) -> None:
    inside, release = threading.Event(), threading.Event()
    homes = conversation(bot).homes

    def view(user: SlackUser) -> dict[str, Any]:
        inside.set()
        release.wait(10)
        return {"type": "home", "blocks": []}

    publisher = HomePublisher(bot.app.db, bot.app.clock, homes.api, view, bot.app.errors)
    publisher.refresh(SlackUser(JOHN), on_home=True)
    assert inside.wait(10)  # John's Home is being published while five commands finish
    others = [f"U0OTHER{n}" for n in range(4)]
    for user in [KARI, *others]:
        publisher.refresh(SlackUser(user))
    with bot.app.db.transaction() as s:
        s.add(SlackHome(user_id=KARI, opened_at=bot.app.clock.now()))  # only Kari's is seen
    statements: list[str] = []
    event.listen(bot.app.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    release.set()
    publisher.close()
    # Five users: one run of four and one of one (bot/db.py, `in_runs`), not a statement each.
    assert len([q for q in statements if "FROM slack_home" in q]) == 2
    assert [c.params["user_id"] for c in bot.fake.calls("views.publish")] == [JOHN, KARI]


def test_a_429_on_the_home_holds_up_no_answer_and_the_home_follows_later(
    bot: SlackBot, clock: ManualClock
) -> None:
    bot.slack.home_opened(KARI)
    home_of(bot, KARI, 1)
    bot.fake.rate_limit("views.publish", retry_after=30)
    _, key = bot.slack.click(ids.SUBSCRIBE, SLUG, KARI, where="message")
    assert "påmeldt" in bot.response(key)["text"]
    eventually(lambda: conversation(bot).homes.budget.wait() > 0)  # the 429 holds App Home back
    _, other = bot.slack.click(ids.SUBSCRIBE, SLUG, JOHN, where="message")
    assert "subscribed" in bot.response(other)["text"]  # the inbox worker went on at once
    assert len(bot.fake.homes(KARI)) == 1
    clock.advance(timedelta(seconds=30))  # Retry-After passed: published then, in the background
    assert ids.UNSUBSCRIBE in [b["action_id"] for b in buttons(home_of(bot, KARI, 2))]
    assert [c.status for c in bot.fake.calls("views.publish")] == [200, 429, 200]


def test_the_buttons_on_app_home_toggle_and_refresh_it(bot: SlackBot) -> None:
    bot.slack.click(ids.SUBSCRIBE, SLUG, KARI, where="home")
    assert ids.UNSUBSCRIBE in [b["action_id"] for b in buttons(home_of(bot, KARI, 1))]
    assert bot.subscribers() == ["kari@kommune.no"]
    bot.slack.click(ids.UNSUBSCRIBE, SLUG, KARI, where="home")
    assert ids.SUBSCRIBE in [b["action_id"] for b in buttons(home_of(bot, KARI, 2))]
    assert bot.subscribers() == []
    assert not any(c.method.startswith("response_url") for c in bot.fake.calls())  # home has none


def test_organisers_get_buttons_to_plan_edit_and_add_slides(bot: SlackBot, sessions: dict[str, int]) -> None:
    bot.app.dispatcher.execute(ORGANISER, GrantOrganiser(f"slack:{KARI}"))
    bot.slack.home_opened(KARI)
    found = [(b["action_id"], b.get("value")) for b in buttons(home_of(bot, KARI))]
    assert (ids.PLAN_SESSION, SLUG) in found
    assert (ids.EDIT_SESSION, str(sessions["next"])) in found
    assert (ids.ADD_LINK, str(sessions["held"])) in found


def test_a_retried_event_is_handled_once(bot: SlackBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    assert bot.slack.home_opened(KARI, event_id="Ev0RETRY").status_code == 200
    home_of(bot, KARI)
    assert bot.slack.home_opened(KARI, event_id="Ev0RETRY", retry=1).status_code == 200
    eventually(lambda: "seen before" in caplog.text)
    assert len(bot.fake.homes(KARI)) == 1
    bot.slack.home_opened(KARI, event_id="Ev0OTHER")  # a new event is not a retry
    home_of(bot, KARI, 2)


def test_titles_cannot_ping_or_disguise_links_on_app_home(bot: SlackBot) -> None:
    plan(bot.app, "<!channel> <@U123> <http://x|y> & co", "2026-03-06 09:00", tema="<!here>")
    bot.slack.home_opened(KARI)
    texts = mrkdwn_texts(home_of(bot, KARI))
    joined = "\n".join(texts)
    assert "*&lt;!channel&gt; &lt;@U123&gt; &lt;http://x|y&gt; &amp; co*" in joined
    assert "&lt;!here&gt;" in joined
    for text in texts:
        assert "<!" not in text and "<@" not in text and "<http" not in text


def test_a_subscriber_turns_direct_messages_on_and_off_from_app_home(bot: SlackBot) -> None:
    bot.slack.click(ids.SUBSCRIBE, SLUG, KARI, where="home")
    assert [b["action_id"] for b in buttons(home_of(bot, KARI, 1))] == [ids.UNSUBSCRIBE, ids.DIRECT_ON]
    bot.slack.click(ids.DIRECT_ON, SLUG, KARI, where="home")
    home = home_of(bot, KARI, 2)
    assert [b["action_id"] for b in buttons(home)] == [ids.UNSUBSCRIBE, ids.DIRECT_OFF]
    assert "Du får dem også som direktemelding fra meg." in "\n".join(mrkdwn_texts(home))
    assert direct_messages(bot) == [True]
    bot.slack.click(ids.DIRECT_OFF, SLUG, KARI, where="home")
    assert [b["action_id"] for b in buttons(home_of(bot, KARI, 3))] == [ids.UNSUBSCRIBE, ids.DIRECT_ON]
    assert direct_messages(bot) == [False]


def test_dm_typed_as_a_command_refreshes_app_home(bot: SlackBot) -> None:
    bot.slack.home_opened(KARI)
    home_of(bot, KARI, 1)
    bot.slack.command("meld på", KARI)
    home_of(bot, KARI, 2)
    bot.slack.command("dm på", KARI)
    assert ids.DIRECT_OFF in [b["action_id"] for b in buttons(home_of(bot, KARI, 3))]


def test_the_next_three_sessions_are_shown(bot: SlackBot) -> None:
    for day in (6, 13, 20, 27):
        plan(bot.app, f"Økt {day}. mars", f"2026-03-{day} 09:00")
    bot.slack.home_opened(KARI)
    text = "\n".join(mrkdwn_texts(home_of(bot, KARI)))
    assert "*Kommende økter*" in text
    assert all(f"*Økt {day}. mars*" in text for day in (6, 13, 20))
    assert "Økt 27. mars" not in text
    assert "nettsiden" not in text.lower() and "calendar.ics" not in text  # no PUBLIC_BASE_URL: no links


def test_app_home_links_to_the_web_page_and_calendar_feed(settings: BotSettings, clock: ManualClock) -> None:
    public = replace(settings, public_base_url="https://baerekraft.ks.no")
    with slack_bot(public, clock) as bot:
        bot.slack.home_opened(JOHN)
        text = "\n".join(mrkdwn_texts(home_of(bot, JOHN)))
    assert "<https://baerekraft.ks.no/s/baerekraftsfredag|The series' web page>" in text
    assert "<https://baerekraft.ks.no/s/baerekraftsfredag/calendar.ics|The calendar (.ics)" in text


def conversation(bot: SlackBot) -> SlackConversation:
    channel = bot.app.channel(SlackChannel)
    assert channel is not None
    return channel.conversation


def direct_messages(bot: SlackBot) -> list[bool]:
    with bot.app.db.read() as s:
        return [sub.direct_messages for sub in s.scalars(select(Subscription))]


def test_after_an_erasure_the_home_is_no_longer_seen(bot: SlackBot) -> None:
    bot.slack.home_opened(KARI)
    home_of(bot, KARI, 1)
    bot.slack.click(ids.SUBSCRIBE, SLUG, KARI, where="message")
    home_of(bot, KARI, 2)  # seen: published again after her click
    _, erased = bot.slack.command("slett meg ja", KARI)
    assert "slettet" in bot.response(erased)["text"]
    _, key = bot.slack.click(ids.SUBSCRIBE, SLUG, KARI, where="message")  # back, as a new person
    assert "påmeldt" in bot.response(key)["text"]
    conversation(bot).close()  # every answer and App Home still queued goes out first
    assert len(bot.fake.homes(KARI)) == 2  # that she opened it went with the erasure
