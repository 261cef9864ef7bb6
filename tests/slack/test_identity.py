"""Who a Slack user is: users.info to an Actor (e-mail, name, language, time zone), cached briefly so
the bot stays well inside Tier 4."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.commands import Actor
from handlers.slack.client import SERVER_ERROR_RETRIES, make_web_client
from handlers.slack.identity import SlackDirectory, language_of
from handlers.slack.settings import SlackSettings
from tests.conftest import NOW
from tests.slack.fakes.slack_api import FakeSlackAPI, running_fake


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        running.add_user("U1", "Kari Nordmann", email=" Kari@Kommune.NO ", locale="nb-NO", tz="Europe/Oslo")
        running.add_user("U2", "John Smith", locale="en-GB", tz="Europe/London")
        running.add_user("B1", "Some Bot", is_bot=True)
        yield running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def directory(fake: FakeSlackAPI, clock: ManualClock) -> SlackDirectory:
    settings = SlackSettings(bot_token=fake.token or "", signing_secret="s" * 32, api_url=fake.url)
    return SlackDirectory(make_web_client(settings, backoff_seconds=0.001), clock)


def test_a_slack_user_becomes_an_actor_with_a_vouched_email(directory: SlackDirectory) -> None:
    assert directory.actor("U1") == Actor(
        "slack", "U1", email="kari@kommune.no", name="Kari Nordmann", language="nb"
    )
    john = directory.user("U2")
    assert (john.email, john.language, john.timezone) == (None, "en", "Europe/London")


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("nb-NO", "nb"),
        ("nn-NO", "nn"),
        ("no", "nb"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("da-DK", "da"),
        ("sv-SE", None),
        (None, None),
    ],
)
def test_the_locale_gives_the_language(locale: str | None, language: str | None) -> None:
    assert language_of(locale) == language


def test_answers_are_cached_for_ten_minutes(
    directory: SlackDirectory, fake: FakeSlackAPI, clock: ManualClock
) -> None:
    for _ in range(3):
        directory.user("U1")
    assert len(fake.calls("users.info")) == 1
    clock.advance(timedelta(minutes=10, seconds=1))
    directory.user("U1")
    assert len(fake.calls("users.info")) == 2
    clock.advance(timedelta(hours=1))
    directory.user("U1", allow_stale=True)  # a modal submission does not wait for Slack
    assert len(fake.calls("users.info")) == 2


def test_a_failed_lookup_acts_on_the_id_alone_and_is_retried_soon(
    directory: SlackDirectory, fake: FakeSlackAPI, clock: ManualClock
) -> None:
    fake.server_error("users.info", times=1 + SERVER_ERROR_RETRIES)  # every retry fails too
    assert directory.actor("U1", "kari") == Actor("slack", "U1", name="kari")
    directory.actor("U1")
    assert len(fake.calls("users.info")) == 1 + SERVER_ERROR_RETRIES  # the failure is remembered briefly
    clock.advance(timedelta(minutes=1, seconds=1))
    assert directory.actor("U1").email == "kari@kommune.no"


def test_unknown_users_and_bots_are_known_only_by_id(directory: SlackDirectory) -> None:
    assert directory.actor("U404") == Actor("slack", "U404")
    assert directory.actor("B1") == Actor("slack", "B1")
