"""Slack's own way of naming people, channels and links in a slash command's text: an organiser picks
a colleague from autocomplete (`gi arrangør @Kari`) and the bot knows who is meant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import GrantOrganiser
from bot.entry.settings import BotSettings
from bot.models import Identity, Organiser, Session
from handlers.slack.translate import plain_text
from tests.conftest import ORGANISER
from tests.slack.fakes.slack_bot import KARI, OLGA, SlackBot, slack_bot
from tests.slack.fakes.slack_text import should_escape


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        yield running


def test_the_manifest_asks_slack_for_people_as_ids() -> None:
    assert should_escape()


def test_an_organiser_is_named_with_a_mention(bot: SlackBot) -> None:
    bot.app.dispatcher.execute(ORGANISER, GrantOrganiser(f"slack:{OLGA}"))
    _, key = bot.slack.command("gi arrangør @Kari", OLGA)
    assert "arrangør" in bot.response(key)["text"]
    with bot.app.db.read() as s:
        organisers = set(
            s.scalars(select(Identity.external_id).join(Organiser, Organiser.person_id == Identity.person_id))
        )
    assert organisers == {OLGA, KARI}


def test_titles_with_ampersands_links_and_mentions_arrive_as_typed(bot: SlackBot) -> None:
    bot.app.dispatcher.execute(ORGANISER, GrantOrganiser(f"slack:{OLGA}"))
    typed = "Mat & klima <3 @here med @Kari https://ks.no/x?a=1&b=2"
    _, key = bot.slack.command(f"ny økt 2026-03-09 09:00 {typed}", OLGA)
    assert "Mat &amp; klima" in bot.response(key)["text"]  # escaped again for mrkdwn
    with bot.app.db.read() as s:
        [title] = s.scalars(select(Session.title))
    assert title == "Mat & klima <3 @here med @kari.nordmann https://ks.no/x?a=1&b=2"


@pytest.mark.parametrize(
    ("sent", "typed"),
    [
        ("gi arrangør <@U0KARI|kari.nordmann>", "gi arrangør slack:U0KARI"),
        ("gi arrangør <@U0KARI>", "gi arrangør slack:U0KARI"),
        ("gi arrangør <mailto:kari@kommune.no|kari@kommune.no>", "gi arrangør kari@kommune.no"),
        ("Tittel <!here> <!subteam^S12|@team> <#C12|general>", "Tittel @here @team #general"),
        ("<https://ks.no/a?b=1&amp;c=2> &lt;3 &amp;amp;", "https://ks.no/a?b=1&c=2 <3 &amp;"),
    ],
)
def test_slacks_tokens_become_plain_text(sent: str, typed: str) -> None:
    assert plain_text(sent) == typed


def test_outside_commands_about_people_a_mention_reads_as_a_name() -> None:
    sent = "foredragsholder <@U0KARI|kari.nordmann> og <@U0JOHN>"
    assert plain_text(sent, mentions_as_ids=False) == "foredragsholder @kari.nordmann og slack:U0JOHN"
