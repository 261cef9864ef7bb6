"""Block Kit for the bot's own posts (for the delivery engine's Slack sender): the right buttons per
kind, escaped user text, Slack's limits kept, a plain fallback; and accepted by the fake Web API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.entry.composition import make_renderer
from bot.rendering import Renderer
from bot.views import LinkView, SeriesView, SessionView
from handlers.slack import actions as ids
from handlers.slack.client import make_web_client
from handlers.slack.labels import Labels
from handlers.slack.posts import SlackMessage, session_post
from handlers.slack.settings import SlackSettings
from tests.slack.fakes.slack_api import FakeSlackAPI, running_fake
from tests.slack.fakes.slack_blocks import block_problems
from tests.slack.fakes.slack_bot import buttons, mrkdwn_texts

HOSTILE = "<!channel> <@U123> <http://x|y> & co"
SERIES = SeriesView(1, "baerekraftsfredag", "Bærekraftsfredag", "nb", "Europe/Oslo", None)
START = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)  # 09:00 in Oslo
SESSION = SessionView(
    id=7,
    series=SERIES,
    title="Sirkulær økonomi",
    topic="SDG 12",
    speakers="Kari, Ola",
    description="Innledning og spørsmål",
    start=START,
    end=START + timedelta(hours=1),
    duration_minutes=60,
    join_url="https://teams.example/m/7?a=1&b=2",
    status="scheduled",
    sequence=0,
    links=(LinkView(1, "Lysark", "Kari", "https://ks.no/lysark.pdf"),),
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return make_renderer()


def post(renderer: Renderer, kind: str, session: SessionView = SESSION, **kwargs: object) -> SlackMessage:
    return session_post(renderer, Labels(renderer), kind, SERIES, session, language="nb", **kwargs)  # type: ignore[arg-type]


def actions_of(message: SlackMessage) -> list[tuple[str, str | None]]:
    return [(b["action_id"], b.get("value") or b.get("url")) for b in buttons(message.blocks)]


@pytest.mark.parametrize("kind", ["invitation", "reminder", "change", "cancellation", "followup"])
def test_every_kind_keeps_slacks_limits(renderer: Renderer, kind: str) -> None:
    message = post(renderer, kind)
    assert block_problems(message.blocks, 50) == []
    assert message.text and message.blocks[0]["type"] == "header"


def test_the_invitation_carries_the_subscribe_and_join_buttons(renderer: Renderer) -> None:
    message = post(renderer, "invitation")
    assert actions_of(message) == [
        (ids.OPEN_LINK, "https://teams.example/m/7?a=1&b=2"),
        (ids.SUBSCRIBE, "baerekraftsfredag"),
    ]
    text = "\n".join(mrkdwn_texts(message.blocks))
    assert "Velkommen til en ny økt i Bærekraftsfredag" in text
    assert "fredag 6. mars 2026 kl. 09:00–10:00" in text
    assert "Bli med: <https://teams.example/m/7?a=1&amp;b=2>" in text  # a link, & escaped as mrkdwn wants
    assert message.text == "Invitasjon: Sirkulær økonomi (6.3.2026 09:00)"


def test_a_reminder_as_a_direct_message_offers_to_unsubscribe(renderer: Renderer) -> None:
    message = post(renderer, "reminder", direct=True)
    assert [a for a, _ in actions_of(message)] == [ids.OPEN_LINK, ids.UNSUBSCRIBE]
    assert "Du får dette fordi du er påmeldt" in mrkdwn_texts(message.blocks)[-1]


def test_a_cancellation_has_no_join_or_subscribe_button(renderer: Renderer) -> None:
    cancelled = replace(SESSION, status="cancelled")
    message = post(renderer, "cancellation", cancelled)
    assert actions_of(message) == []
    assert "(AVLYST)" in "\n".join(mrkdwn_texts(message.blocks))


def test_the_follow_up_lists_the_slides(renderer: Renderer) -> None:
    message = post(renderer, "followup")
    text = "\n".join(mrkdwn_texts(message.blocks))
    assert "• <https://ks.no/lysark.pdf|Lysark> (Kari)" in text
    assert actions_of(message) == [(ids.SUBSCRIBE, "baerekraftsfredag")]  # the meeting is over: no join


def test_the_engines_own_body_is_used_when_given(renderer: Renderer) -> None:
    message = post(renderer, "reminder", body="Om en time: *Sirkulær økonomi*")
    assert mrkdwn_texts(message.blocks)[0] == "Om en time: *Sirkulær økonomi*"


def test_user_text_cannot_ping_or_disguise_links(renderer: Renderer) -> None:
    evil_link = LinkView(2, "<http://evil|Offisielle lysark>", "<@U999>", "https://ks.no/x")
    evil = replace(SESSION, title=HOSTILE, topic="<!here>", speakers="<!everyone>", links=(evil_link,))
    for kind in ("invitation", "followup"):
        message = post(renderer, kind, evil)
        for text in [*mrkdwn_texts(message.blocks), message.text]:
            assert "<!" not in text and "<@" not in text and "<http://evil" not in text, text
            own = re.sub(r"<https://(ks\.no/x|teams\.example/m/7\?a=1&amp;b=2)(\|[^<>]*)?>", "", text)
            assert "<" not in own and ">" not in own, text  # the only links: the stored addresses
        assert "&lt;!channel&gt; &lt;@U123&gt; &lt;http://x|y&gt; &amp; co" in json.dumps(message.blocks)


def test_a_long_title_is_clipped_to_slacks_limits(renderer: Renderer) -> None:
    message = post(renderer, "invitation", replace(SESSION, title="Å" * 300, description="x " * 3000))
    assert block_problems(message.blocks, 50) == []
    assert message.blocks[0]["text"]["text"].endswith("…")


def test_english_posts(renderer: Renderer) -> None:
    message = session_post(renderer, Labels(renderer), "invitation", SERIES, SESSION, language="en")
    assert "Friday 6 March 2026 at 09:00–10:00" in "\n".join(mrkdwn_texts(message.blocks))
    assert [b["text"]["text"] for b in buttons(message.blocks)] == ["Join", "Subscribe"]


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_channel("C0ANNOUNCE", "baerekraft", member=True)
        yield running


def test_posted_through_the_client_the_fake_accepts_and_keeps_it(
    renderer: Renderer, fake: FakeSlackAPI
) -> None:
    settings = SlackSettings(bot_token=fake.token or "", signing_secret="s" * 32, api_url=fake.url)
    client = make_web_client(settings, backoff_seconds=0.01)
    message = post(renderer, "invitation", replace(SESSION, title=HOSTILE))
    answer = client.chat_postMessage(channel="C0ANNOUNCE", **message.as_kwargs())
    assert answer["ok"]
    history = client.conversations_history(channel="C0ANNOUNCE")["messages"]
    assert history[0]["blocks"] == message.blocks and history[0]["text"] == message.text
    assert "<!channel>" not in history[0]["text"]
