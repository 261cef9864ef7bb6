"""Erasure finds every copy: after `slett meg` no table holds the person's address, name, Slack id or
Teams id (only the keyed hash that proves the unsubscribe), and their pending web sign-up and that
their Slack App Home was opened are gone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.commands import Actor
from bot.entry.composition import App
from bot.models import Base
from bot.tokens import read_confirm_token
from handlers.slack.client import sending_client
from handlers.slack.models import SlackHome
from handlers.slack.sender import SlackSender
from handlers.slack.settings import SlackSettings
from handlers.web import pending
from tests.conftest import ORGANISER
from tests.slack.fakes.slack_api import BOT_TOKEN, running_fake

Say = Callable[..., str]
ADDRESS, NAME = "kari.slettesen@kommune.no", "Kari Slettesen"
SLACK_ID, TEAMS_ID = "U0KARIERASE", "5f0c1d2e-aaaa-bbbb-cccc-0123456789ab"
TRACES = (ADDRESS, NAME, SLACK_ID, TEAMS_ID)


def everything_stored(app: App) -> str:
    """Every row of every table, as text (what a database dump would show)."""
    with app.db.read() as s:
        return "\n".join(
            repr(tuple(row)) for table in Base.metadata.sorted_tables for row in s.execute(select(table))
        )


def test_erasing_a_person_leaves_no_identifier_of_theirs_anywhere(
    app: App, say: Say, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    on_slack = Actor("slack", SLACK_ID, email=ADDRESS, name=NAME)
    on_teams = Actor("teams", TEAMS_ID, email=ADDRESS, name=NAME)
    with running_fake() as fake:
        fake.add_channel("C0ANNOUNCE", "baerekraft", member=True)
        settings = SlackSettings(BOT_TOKEN, "signing-secret", None, "C0ANNOUNCE", fake.url)
        app.delivery.add_sender(SlackSender(sending_client(settings), settings, app.renderer))
        say(on_slack, "meld på")
        say(on_slack, "dm på")
        say(on_teams, "meld på")  # the same person, also known in Teams
        say(ORGANISER, "ny økt 2026-03-09 09:00 Sletting")
        app.delivery.run_until_idle()
        assert fake.messages(SLACK_ID)  # the invitation went to her as a DM
    token = pending.create(app.core, pending.SUBSCRIBE, ADDRESS, name=NAME)  # a sign-up not yet confirmed
    with app.db.transaction() as s:  # she opened the bot's App Home in Slack
        s.add(SlackHome(user_id=SLACK_ID, opened_at=app.core.clock.now()))
    before = everything_stored(app)
    assert [trace for trace in TRACES if trace not in before] == []  # the search can find each one

    assert "slettet" in say(on_slack, "slett meg ja")

    after = everything_stored(app)
    leftover = [line for line in after.splitlines() if any(t.lower() in line.lower() for t in TRACES)]
    assert leftover == [], "\n".join(leftover)
    stored_as = read_confirm_token(app.core.settings.secret_key, app.core.clock, token)
    assert pending.find(app.core, stored_as, pending.SUBSCRIBE) is None  # its link is dead
    assert [trace for trace in TRACES if trace in caplog.text] == []
