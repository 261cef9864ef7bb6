"""`/baerekraft <text>` end to end over HTTP: signed by "Slack", acked at once, carried out by the
core, answered ephemerally through response_url in the user's language, user text escaped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.commands import GrantOrganiser
from bot.entry.settings import BotSettings
from bot.models import Identity, Person
from bot.parser import parse
from handlers.slack import intake
from handlers.slack.channel import SlackChannel
from tests.conftest import ORGANISER, person
from tests.slack.fakes.slack_bot import JOHN, KARI, OLGA, SlackBot, slack_bot


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        yield running


def test_subscribe_and_unsubscribe_by_command(bot: SlackBot) -> None:
    answer, key = bot.slack.command("meld på", KARI)
    assert (answer.status_code, answer.text) == (200, "")
    reply = bot.response(key)
    assert reply["response_type"] == "ephemeral"
    assert "Du er nå påmeldt Bærekraftsfredag" in reply["text"]
    assert bot.subscribers() == ["kari@kommune.no"]  # the e-mail from users.info, normalised

    _, key = bot.slack.command("MELD AV", KARI)
    assert "Du er meldt av Bærekraftsfredag" in bot.response(key)["text"]
    assert bot.subscribers() == []


def test_the_ack_comes_back_before_the_work_is_done(bot: SlackBot) -> None:
    gate = bot.fake.hold("users.info")  # who the user is: the first thing after the ack
    answer, key = bot.slack.command("meld på", KARI)  # answered while users.info is held
    assert answer.status_code == 200
    assert bot.subscribers() == [] and bot.fake.responses(key) == []  # nothing done yet
    gate.set()
    assert "påmeldt" in bot.response(key)["text"]
    assert bot.subscribers() == ["kari@kommune.no"]


def test_empty_text_is_the_help_with_the_slack_extras(bot: SlackBot) -> None:
    _, key = bot.slack.command("", KARI)
    text = bot.response(key)["text"]
    assert "Dette kan du skrive til meg" in text
    assert "Fanen «Hjem»" in text
    assert "/baerekraft planlegg" not in text and "For arrangører" not in text  # Kari organises nothing
    bot.app.dispatcher.execute(ORGANISER, GrantOrganiser(f"slack:{OLGA}"))
    _, key = bot.slack.command("hjelp", OLGA)
    text = bot.response(key)["text"]
    assert "/baerekraft planlegg" in text and "For arrangører" in text


def test_english_slack_users_get_english_replies(bot: SlackBot) -> None:
    _, key = bot.slack.command("subscribe", JOHN)
    assert "You are now subscribed to Bærekraftsfredag" in bot.response(key)["text"]


def test_user_text_in_a_reply_is_escaped_for_mrkdwn(bot: SlackBot) -> None:
    _, key = bot.slack.command("<!channel> <@U123> <http://evil.example|klikk her>", KARI)
    text = bot.response(key)["text"]
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|klikk her&gt;" in text
    assert "<!channel>" not in text and "<@U123>" not in text and "<http" not in text


def test_status_and_next_are_read_only_and_answered(bot: SlackBot) -> None:
    _, key = bot.slack.command("status", KARI)
    assert "Du er ikke påmeldt Bærekraftsfredag" in bot.response(key)["text"]
    _, key = bot.slack.command("neste", KARI)
    assert "Ingen ny økt i Bærekraftsfredag" in bot.response(key)["text"]
    with bot.app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0


def test_a_slack_account_and_the_console_with_the_same_email_are_one_person(bot: SlackBot) -> None:
    _, key = bot.slack.command("meld på", KARI)
    assert "påmeldt" in bot.response(key)["text"]
    kari_in_console = person("kari@kommune.no")  # the operator vouches for the address
    assert "allerede påmeldt" in bot.app.renderer.reply(
        bot.app.dispatcher.execute(kari_in_console, parse("meld på"))
    )
    with bot.app.db.read() as s:
        [kari] = s.scalars(select(Person)).all()
        identities = s.scalars(select(Identity).where(Identity.person_id == kari.id)).all()
        assert sorted(i.platform for i in identities) == ["console", "slack"]


def test_without_the_email_scope_the_slack_id_is_enough(bot: SlackBot) -> None:
    bot.fake.revoke("users:read.email")
    _, key = bot.slack.command("meld på", KARI)
    assert "påmeldt" in bot.response(key)["text"]
    assert bot.subscribers() == [KARI]


def test_a_command_that_fails_for_good_is_answered_with_the_generic_error(
    bot: SlackBot, clock: ManualClock
) -> None:
    channel = bot.app.channel(SlackChannel)
    assert channel is not None
    key = "apology"
    channel.apologise(intake.COMMAND, {"response_url": bot.fake.response_url(key), "user_id": KARI})
    reply = bot.response(key)
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Beklager, noe gikk galt hos meg.")
