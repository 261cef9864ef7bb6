"""Who a Slack user is: users.info to an Actor (e-mail, name, language, time zone), cached briefly so
the bot stays well inside Tier 4, and asked within a budget of that tier: a command never waits for
Slack's limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.commands import Actor
from handlers.slack.budget import TIER_4
from handlers.slack.client import api_client
from handlers.slack.identity import PATIENCE_SECONDS, SlackDirectory, language_of
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
def directory(fake: FakeSlackAPI, clock: ManualClock) -> Iterator[SlackDirectory]:
    settings = SlackSettings(bot_token=fake.token or "", signing_secret="s" * 32, api_url=fake.url)
    api = api_client(settings)
    yield SlackDirectory(api, clock)
    api.close()


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
    fake.server_error("users.info")  # not retried: the command goes on at once
    assert directory.actor("U1", "kari") == Actor("slack", "U1", name="kari")
    directory.actor("U1")
    assert len(fake.calls("users.info")) == 1  # the failure is remembered briefly
    clock.advance(timedelta(minutes=1, seconds=1))
    assert directory.actor("U1").email == "kari@kommune.no"


def test_unknown_users_and_bots_are_known_only_by_id(directory: SlackDirectory) -> None:
    assert directory.actor("U404") == Actor("slack", "U404")
    assert directory.actor("B1") == Actor("slack", "B1")


def test_a_429_acts_on_the_id_at_once_and_asks_again_once_the_limit_allows(
    directory: SlackDirectory, fake: FakeSlackAPI, clock: ManualClock
) -> None:
    fake.rate_limit("users.info", retry_after=30)
    assert directory.actor("U1", "kari") == Actor("slack", "U1", name="kari")  # no wait, no retry
    assert directory.actor("U1", "kari") == Actor("slack", "U1", name="kari")  # held back: no call
    assert [c.status for c in fake.calls("users.info")] == [429]
    clock.advance(timedelta(seconds=30))  # Retry-After has passed: the profile is asked for again
    assert directory.actor("U1").email == "kari@kommune.no"
    assert [c.status for c in fake.calls("users.info")] == [429, 200]


def test_beyond_the_budget_users_are_known_by_id_and_looked_up_later(
    directory: SlackDirectory, fake: FakeSlackAPI, clock: ManualClock
) -> None:
    for number in range(int(TIER_4.burst) + 5):
        fake.add_user(f"U9{number:03d}", f"Person {number}", email=f"p{number}@kommune.no")
    found = [directory.user(f"U9{number:03d}") for number in range(int(TIER_4.burst) + 5)]
    assert [u.email is not None for u in found] == [True] * int(TIER_4.burst) + [False] * 5
    assert len(fake.calls("users.info")) == TIER_4.burst  # never a call Slack would refuse
    clock.advance(timedelta(seconds=60 / TIER_4.per_minute))  # one more call's worth of budget
    assert directory.user("U9010").email == "p10@kommune.no"  # the fallback was not cached


def test_an_organisers_form_waits_for_the_limit_a_little(
    directory: SlackDirectory, fake: FakeSlackAPI, clock: ManualClock
) -> None:
    fake.rate_limit("users.info", retry_after=4)
    began = clock.now()
    assert directory.user("U1", patient=True).email == "kari@kommune.no"
    assert [c.status for c in fake.calls("users.info")] == [429, 200]
    assert clock.now() - began >= timedelta(seconds=4)  # waited out Retry-After on the bot's clock
    fake.rate_limit("users.info", retry_after=int(PATIENCE_SECONDS) + 5)
    assert directory.user("U2", "john", patient=True) == directory.user("U2", "john")  # not that long
    assert directory.user("U2", "john").email is None
