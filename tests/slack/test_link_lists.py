"""Slide links reach Slack whole: a follow-up with 40 long links, in the channel, as a DM and on App
Home, carries every URL as a link, none cut, however many sections, messages or past sessions it takes."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.commands import Actor, AddLink
from bot.entry.composition import App
from bot.entry.settings import BotSettings
from handlers.slack.client import sending_client
from handlers.slack.sender import SlackSender
from handlers.slack.settings import SlackSettings
from tests.conftest import ORGANISER
from tests.delivery.helpers import delivery_states, simulate
from tests.slack.fakes.slack_api import BOT_TOKEN, FakeSlackAPI, running_fake
from tests.slack.fakes.slack_blocks import MESSAGE_TEXT, message_text_length
from tests.slack.fakes.slack_bot import KARI, SlackBot, mrkdwn_texts, plan, slack_bot

CHANNEL, READER = "C0ANNOUNCE", "U0READER"
Say = Callable[..., str]
LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
FOLDER = "https://www.ks.no/globalassets/fagomrader/samfunnsutvikling/baerekraft/presentasjoner/2026/mars"


def slides(count: int = 40, folder: str = FOLDER) -> list[tuple[str, str, str]]:
    """(url, title, speaker) of `count` presentations with the long titles and URLs municipalities use."""
    found = []
    for i in range(1, count + 1):
        url = f"{folder}/{i:02d}-klimatilpasning-og-overvann-erfaringer-fra-kommunene-i-vestland.pdf"
        if i % 10 == 0:
            url += f"?versjon={i}&nedlasting=true"
        topic = "Klimatilpasning i praksis – overvann, blågrønne løsninger og arealplanlegging i kommunen"
        title = f"Del {i}: {topic}"
        found.append((url, title, f"Rådgiver nr. {i}, Vestland fylkeskommune"))
    return found


def links_in(blocks_or_view: list[dict[str, Any]] | dict[str, Any]) -> list[tuple[str, str]]:
    """Every `<url|title>` link in the mrkdwn texts, with Slack's escaping undone."""
    found = []
    for text in mrkdwn_texts(blocks_or_view):
        found += [(html.unescape(url), html.unescape(title)) for url, title in LINK.findall(text)]
    return found


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_channel(CHANNEL, "baerekraft", member=True)
        yield running


def _followups(fake: FakeSlackAPI, channel: str) -> list[dict[str, Any]]:
    """The follow-up's posts in `channel`, in order: top-level ones and thread replies (in the channel
    the follow-up itself is a reply to the invitation post)."""
    top = [m for m in fake.messages(channel) if m.get("subtype") != "thread_broadcast"]
    replies = [r for m in top for r in fake.thread(channel, m["ts"])]
    return sorted(
        (
            m
            for m in top + replies
            if ":followup|" in str((m.get("metadata") or {}).get("event_payload", {}).get("key"))
        ),
        key=lambda m: m["ts"],
    )


@pytest.mark.parametrize("paced", [False, True], ids=["", "paced"])
def test_a_followup_with_40_long_links_carries_every_url_whole_to_the_channel_and_a_dm(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say, paced: bool
) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the clock's sleep; for the fake's pacing, that second passed
        waits.append(seconds)
        clock.sleep(seconds)
        fake.workspace.last_post.clear()

    settings = SlackSettings(BOT_TOKEN, "signing-secret", None, CHANNEL, fake.url)
    app.delivery.add_sender(SlackSender(sending_client(settings), settings, app.renderer, sleep=sleep))
    reader = Actor("slack", READER, email="reader@kommune.no")
    say(reader, "meld på")
    say(reader, "dm på")
    say(ORGANISER, "ny økt 2026-03-06 09:00 Klimatilpasning")
    simulate(app, clock, datetime(2026, 3, 6, 9, 30, tzinfo=UTC))
    [session_id] = {
        int(str(m["metadata"]["event_payload"]["key"])[1:].split(":")[0]) for m in fake.messages(CHANNEL)
    }
    for url, title, speaker in slides():
        say(ORGANISER, f"ny lenke {session_id} {url} {title}; foredragsholder={speaker}")
    if paced:  # a channel's pace allows one post (till the sender waits): the thread's post meets a 429
        fake.workspace.pace_per_second = 1 / 3600
        fake.workspace.last_post.clear()
    simulate(app, clock, clock.now() + timedelta(hours=2))
    assert waits == ([1.0, 1.0] if paced else [])  # one wait in the channel, one in the DM

    expected = [(url, title) for url, title, _ in slides()]
    for channel in (CHANNEL, READER):
        posts = _followups(fake, channel)
        assert posts, channel
        found = [link for post in posts for link in links_in(post["blocks"])]
        assert found == expected, channel
        first = posts[0]
        assert len(posts) == 2  # too much text for one message: the rest in its thread
        for later in posts[1:]:  # the rest in the first post's thread
            assert later["thread_ts"] == first.get("thread_ts", first["ts"])
    assert "failed" not in delivery_states(app) and "pending" not in delivery_states(app)


def test_links_are_split_between_lines_and_never_inside_a_link() -> None:
    from handlers.slack.blocks import SECTION_TEXT, sections

    line = "• <https://ks.no/" + "a" * 200 + ".pdf|" + "Tittel " * 20 + ">"
    text = "Takk for sist!\n\n" + "\n".join(f"{line} {i}" for i in range(60))
    blocks = sections(text)
    assert all(len(b["text"]["text"]) <= SECTION_TEXT for b in blocks)
    assert sum(len(LINK.findall(b["text"]["text"])) for b in blocks) == 60
    one_line = " ".join(f"<https://ks.no/{i}.pdf|Lysark {i}>" for i in range(400))  # no line breaks at all
    blocks = sections(one_line)
    assert all(len(b["text"]["text"]) <= SECTION_TEXT for b in blocks)
    assert [url for b in blocks for url, _ in LINK.findall(b["text"]["text"])] == [
        f"https://ks.no/{i}.pdf" for i in range(400)
    ]


def test_a_link_too_long_for_a_section_keeps_its_url_whole() -> None:
    from handlers.slack.blocks import SECTION_TEXT, sections

    url = "https://ks.no/" + "x" * 1990
    blocks = sections(f"• <{url}|{'Svært lang tittel ' * 100}>")
    [block] = blocks
    assert len(block["text"]["text"]) <= SECTION_TEXT
    assert f"<{url}|" in block["text"]["text"] or f"<{url}>" in block["text"]["text"]


def test_a_message_is_never_longer_than_slack_takes(fake: FakeSlackAPI) -> None:
    from handlers.slack.blocks import message_parts, sections

    lines = [f"• <{url}|{title}> ({speaker})" for url, title, speaker in slides(400)]
    parts = message_parts([], sections("\n".join(lines)), [])
    assert len(parts) > 1
    for blocks in parts:
        assert len(blocks) <= 50 and message_text_length(blocks) <= MESSAGE_TEXT


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        yield running


def test_app_home_shows_all_40_links_of_a_past_session(bot: SlackBot, clock: ManualClock) -> None:
    held = plan(bot.app, "Klimatilpasning", "2026-03-04 12:00")
    clock.advance(timedelta(hours=3))
    for url, title, speaker in slides():
        bot.app.dispatcher.execute(ORGANISER, AddLink(held, url, title, speaker))
    bot.slack.home_opened(KARI)
    home = bot.fake.wait_for(lambda: bot.fake.homes(KARI))[0]
    assert links_in(home) == [(url, title) for url, title, _ in slides()]


def test_app_home_shows_the_recording_first_with_its_captions_note(bot: SlackBot, clock: ManualClock) -> None:
    held = plan(bot.app, "Klimatilpasning", "2026-03-04 12:00")
    clock.advance(timedelta(hours=3))
    bot.app.dispatcher.execute(ORGANISER, AddLink(held, "https://ks.no/lysark.pdf", "Lysark"))
    bot.app.dispatcher.execute(ORGANISER, AddLink(held, "https://v.example/o", "Opptaket", kind="recording"))
    bot.slack.home_opened(KARI)
    home = bot.fake.wait_for(lambda: bot.fake.homes(KARI))[0]
    assert links_in(home) == [("https://v.example/o", "Opptaket"), ("https://ks.no/lysark.pdf", "Lysark")]
    texts = "\n".join(mrkdwn_texts(home))
    assert (
        "Opptak: <https://v.example/o|Opptaket>" in texts and "_Opptaket har automatisk teksting._" in texts
    )


def test_app_home_shows_fewer_past_sessions_rather_than_fewer_links(
    bot: SlackBot, clock: ManualClock
) -> None:
    held = []
    for day in range(5):
        held.append(plan(bot.app, f"Økt {day}", f"2026-03-0{4 + day} 12:00"))
    clock.set(datetime(2026, 3, 9, 18, 0, tzinfo=UTC))
    deep = FOLDER + "/arkiv" * 80  # 600 characters more: fewer links fill a view
    for session in held:
        for url, title, speaker in slides(60, deep):
            bot.app.dispatcher.execute(ORGANISER, AddLink(session, f"{url}#{session}", title, speaker))
    bot.slack.home_opened(KARI)
    home = bot.fake.wait_for(lambda: bot.fake.homes(KARI))[0]
    assert len(home["blocks"]) <= 100
    shown = links_in(home)
    per_session = {session: [u for u, _ in shown if u.endswith(f"#{session}")] for session in held}
    whole = [s for s, urls in per_session.items() if urls]
    assert 0 < len(whole) < 5  # the newest sessions, each with all its links
    for session in whole:
        assert len(per_session[session]) == 60
    assert whole == sorted(held)[-len(whole) :]  # the newest
    assert "Eldre økter og alle presentasjonene får du med `/baerekraft arkiv`." in mrkdwn_texts(home)
