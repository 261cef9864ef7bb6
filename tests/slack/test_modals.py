"""Organiser modals end to end: opening them (organisers only), planning, editing, cancelling and
adding slides through submissions, and refusals shown under the field they concern."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import GrantOrganiser
from bot.entry.settings import BotSettings
from bot.models import PresentationLink, Session, SessionStatus
from bot.parser import parse
from handlers.slack import actions as ids
from tests.conftest import ORGANISER
from tests.slack.fakes.slack_bot import KARI, OLGA, SlackBot, mrkdwn_texts, plan, slack_bot
from tests.slack.fakes.slack_platform import form_values, text_input


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        running.app.dispatcher.execute(ORGANISER, GrantOrganiser(f"slack:{OLGA}"))
        yield running


def opened_modal(bot: SlackBot, count: int = 1) -> dict[str, Any]:
    return bot.fake.wait_for(lambda: bot.fake.modals()[count - 1 :])[0]


def sessions(bot: SlackBot) -> list[Session]:
    with bot.app.db.read() as s:
        return list(s.scalars(select(Session).order_by(Session.id)))


GOOD = {"title": "Sirkulær økonomi", "date": "2026-03-06", "time_of_day": "09:00"}


def test_an_organiser_plans_a_session_through_the_modal(bot: SlackBot) -> None:
    answer, _ = bot.slack.command("planlegg", OLGA)
    assert answer.status_code == 200
    modal = opened_modal(bot)
    assert modal["callback_id"] == ids.SESSION_FORM
    assert [b["block_id"] for b in modal["blocks"] if b["type"] == "input"][:3] == ["title", "date", "time"]
    values = form_values(**GOOD, duration="90", topic="SDG 12", join_url="https://teams.example/m/2")
    answer = bot.slack.submit(modal, values, OLGA)
    assert answer.status_code == 200
    result = answer.json()
    assert result["response_action"] == "update"
    assert "Økten er lagt inn (nummer 1)" in mrkdwn_texts(result["view"])[0]
    [session] = sessions(bot)
    assert (session.title, session.duration_minutes, session.topic) == ("Sirkulær økonomi", 90, "SDG 12")
    assert session.start_at.isoformat() == "2026-03-06T08:00:00+00:00"  # 09:00 in Oslo
    assert bot.fake.wait_for(lambda: bot.fake.homes(OLGA))  # App Home refreshed after the submission


def test_the_submission_is_answered_without_waiting_for_the_app_home(bot: SlackBot) -> None:
    bot.slack.command("planlegg", OLGA)
    modal = opened_modal(bot)
    gate = bot.fake.hold("views.publish")  # Slack is slow to take the refreshed App Home
    try:
        answer = bot.slack.submit(modal, form_values(**GOOD), OLGA)
        assert answer.json()["response_action"] == "update"
        assert len(sessions(bot)) == 1
        assert bot.fake.homes(OLGA) == []  # answered before the refresh went through
    finally:
        gate.set()
    assert bot.fake.wait_for(lambda: bot.fake.homes(OLGA))  # then refreshed by the inbox worker


REFUSALS = [
    ({"join_url": "teams.example/m/2"}, "join_url", "er ikke en lenke som begynner med https://"),
    ({"date": "2026-03-03"}, "date", "er allerede passert"),
    ({"time_of_day": None}, "time", "Velg et klokkeslett"),
    ({"date": None}, "date", "Velg en dato"),
    ({"date": "2026-03-29", "time_of_day": "02:30"}, "time", "finnes ikke"),  # clocks go forward
    ({"duration": "en time"}, "duration", "helt antall minutter"),
    ({"duration": "0"}, "duration", "mellom 1 og 1440"),
    ({"title": None}, "title", "trenger en tittel"),
]


def test_refusals_are_shown_under_their_field(bot: SlackBot, subtests: pytest.Subtests) -> None:
    bot.slack.command("planlegg baerekraftsfredag", OLGA)
    modal = opened_modal(bot)
    for change, block, message in REFUSALS:
        with subtests.test(block=block, message=message):
            answer = bot.slack.submit(modal, form_values(**{**GOOD, **change}), OLGA)
            result = answer.json()
            assert result["response_action"] == "errors"
            assert list(result["errors"]) == [block]
            assert message in result["errors"][block]
    assert sessions(bot) == []


def test_someone_else_is_refused_the_modal(bot: SlackBot) -> None:
    _, key = bot.slack.command("planlegg", KARI)
    assert "Det kan bare arrangører for Bærekraftsfredag gjøre" in bot.response(key)["text"]
    assert bot.fake.calls("views.open") == []


def test_someone_else_clicking_an_organiser_button_gets_a_refusal_modal(bot: SlackBot) -> None:
    bot.slack.click(ids.PLAN_SESSION, "baerekraftsfredag", KARI, where="home")
    notice = opened_modal(bot)
    assert "callback_id" not in notice and "submit" not in notice
    assert "Det kan bare arrangører" in mrkdwn_texts(notice)[0]


def test_a_forged_submission_by_someone_else_changes_nothing(bot: SlackBot) -> None:
    bot.slack.command("planlegg", OLGA)
    result = bot.slack.submit(opened_modal(bot), form_values(**GOOD), KARI).json()
    assert result["response_action"] == "errors"
    assert "Det kan bare arrangører" in result["errors"]["title"]
    assert sessions(bot) == []


def test_an_organiser_edits_and_then_cancels_a_session(bot: SlackBot) -> None:
    session_id = plan(bot.app, "Klima", "2026-03-06 09:00", varighet="60", tema="SDG 13")
    bot.slack.command(f"planlegg {session_id}", OLGA)
    modal = opened_modal(bot)
    fields = {b["block_id"]: b["element"] for b in modal["blocks"] if b["type"] == "input"}
    assert fields["title"]["initial_value"] == "Klima"
    assert (fields["date"]["initial_date"], fields["time"]["initial_time"]) == ("2026-03-06", "09:00")
    assert "cancel" in fields
    assert fields["topic"]["initial_value"] == "SDG 13"
    # A new title and time; the topic emptied (cleared); the other empty fields stay as they were.
    edited = form_values(title="Klimatilpasning", date="2026-03-06", time_of_day="10:00", duration="60")
    result = bot.slack.submit(modal, edited, OLGA).json()
    assert "Økt 1 er endret (tittel, tidspunkt, tema):" in mrkdwn_texts(result["view"])[0]
    cancelled = {**edited, "cancel": {"type": "checkboxes", "selected_options": [{"value": "cancel"}]}}
    result = bot.slack.submit(modal, cancelled, OLGA).json()
    assert "Økt 1 er avlyst" in mrkdwn_texts(result["view"])[0]
    [session] = sessions(bot)
    assert (session.title, session.status) == ("Klimatilpasning", SessionStatus.CANCELLED.value)


def test_an_organiser_adds_slides_to_a_held_session(bot: SlackBot, clock: ManualClock) -> None:
    held = plan(bot.app, "Klima", "2026-03-04 12:00")
    clock.advance(timedelta(hours=3))
    bot.slack.click(ids.ADD_LINK, str(held), OLGA, where="home")
    modal = opened_modal(bot)
    assert modal["callback_id"] == ids.LINK_FORM
    bad = {"link_title": text_input("Lysark"), "link_url": {"type": "url_text_input", "value": "ks.no/x"}}
    result = bot.slack.submit(modal, bad, OLGA).json()
    assert list(result["errors"]) == ["link_url"]
    good = {**bad, "link_url": {"type": "url_text_input", "value": "https://ks.no/lysark.pdf"}}
    good["link_speaker"] = text_input("Ola")
    result = bot.slack.submit(modal, good, OLGA).json()
    assert result["response_action"] == "update"
    with bot.app.db.read() as s:
        [link] = s.scalars(select(PresentationLink)).all()
    assert (link.session_id, link.title, link.speaker, link.url) == (
        held,
        "Lysark",
        "Ola",
        "https://ks.no/lysark.pdf",
    )


def test_the_slides_command_and_the_shortcut_open_their_modals(bot: SlackBot) -> None:
    session_id = plan(bot.app, "Klima", "2026-03-06 09:00")
    bot.slack.command(f"lysark {session_id}", OLGA)
    assert opened_modal(bot, 1)["callback_id"] == ids.LINK_FORM
    shortcut = {
        "type": "shortcut",
        "callback_id": ids.PLAN_SHORTCUT,
        "trigger_id": "9.9.shortcut",
        "user": {"id": OLGA, "username": "olga", "team_id": "T0FAKE"},
        "team": {"id": "T0FAKE", "domain": "fake"},
        "action_ts": "1.1",
    }
    assert bot.slack.interact(shortcut).status_code == 200
    assert opened_modal(bot, 2)["callback_id"] == ids.SESSION_FORM


def test_an_unknown_session_is_a_clear_answer(bot: SlackBot) -> None:
    _, key = bot.slack.command("planlegg 42", OLGA)
    assert "Jeg finner ingen økt med nummer 42" in bot.response(key)["text"]


def test_a_description_longer_than_the_field_is_kept_when_the_session_is_edited(bot: SlackBot) -> None:
    session_id = plan(bot.app, "Klima", "2026-03-06 09:00")
    with bot.app.db.transaction() as s:  # written before the core's limit became Slack's 3000
        s.get_one(Session, session_id).description = "Lang tekst. " * 400
    bot.slack.command(f"planlegg {session_id}", OLGA)
    modal = opened_modal(bot)  # the fake refuses an initial_value over max_length (at most 3000)
    assert "description" not in [b.get("block_id") for b in modal["blocks"]]
    note = "\n".join(mrkdwn_texts(modal))
    assert "lengre enn 3000 tegn" in note and f"`/baerekraft endre økt {session_id} beskrivelse=…`" in note
    edited = form_values(title="Klimatilpasning", date="2026-03-06", time_of_day="09:00", description="Kort")
    result = bot.slack.submit(modal, edited, OLGA).json()
    assert "Økt 1 er endret (tittel):" in mrkdwn_texts(result["view"])[0]
    [session] = sessions(bot)
    assert (session.title, session.description) == ("Klimatilpasning", "Lang tekst. " * 400)


def test_a_description_fits_the_modal_or_is_refused_in_the_users_language(bot: SlackBot) -> None:
    bot.slack.command("planlegg", OLGA)
    modal = opened_modal(bot)
    [field] = [b["element"] for b in modal["blocks"] if b.get("block_id") == "description"]
    assert field["max_length"] == 3000
    answer = bot.slack.submit(modal, form_values(**GOOD, description="x" * 3000), OLGA).json()
    assert answer["response_action"] == "update"
    [session] = sessions(bot)
    reply = bot.app.dispatcher.execute(ORGANISER, parse(f"endre økt {session.id} beskrivelse={'y' * 3001}"))
    assert (
        bot.app.renderer.reply(reply)
        == "Beskrivelsen er for lang: høyst 3000 tegn. Kort den ned og prøv igjen."
    )
