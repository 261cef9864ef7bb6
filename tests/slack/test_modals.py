"""Organiser modals end to end: opening them (organisers only), planning, editing, cancelling and
adding slides through submissions, and refusals. A modal opens at once as a notice (the trigger id
lives 3 s) and is filled in by the inbox worker; a submission is answered by pushing a notice, which
the inbox worker replaces with the outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import GrantOrganiser
from bot.entry.settings import BotSettings
from bot.models import PresentationLink, Session, SessionStatus
from bot.parser import parse
from handlers.slack import actions as ids
from handlers.slack.channel import SlackChannel
from handlers.slack.identity import SlackDirectory
from tests.conftest import ORGANISER
from tests.slack.fakes.slack_api import Fault
from tests.slack.fakes.slack_bot import JOHN, KARI, OLGA, SlackBot, mrkdwn_texts, plan, slack_bot
from tests.slack.fakes.slack_platform import form_values, text_input


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        running.app.dispatcher.execute(ORGANISER, GrantOrganiser(f"slack:{OLGA}"))
        yield running


LOADING, SAVING = "skjemaet hentes", "lagrer"


def _says(view: dict[str, Any], text: str) -> bool:
    return any(text in t for t in mrkdwn_texts(view))


def opened_modal(bot: SlackBot, count: int = 1) -> dict[str, Any]:
    """The `count`-th modal opened, once the inbox worker filled it in (the form, or a refusal)."""

    def filled() -> list[dict[str, Any]]:
        opened = [m for m in bot.fake.modals() if "previous_view_id" not in m][count - 1 : count]
        return [m for m in opened if not _says(m, LOADING)]

    return bot.fake.wait_for(filled)[0]


def submitted(bot: SlackBot, modal: dict[str, Any], values: dict[str, Any], user: str) -> dict[str, Any]:
    """Submit `modal`: the field errors of the answer, or the outcome shown in the notice it pushed."""
    answer = bot.slack.submit(modal, values, user)
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    if result["response_action"] == "errors":
        return result
    assert result["response_action"] == "push" and _says(result["view"], "Et øyeblikk")
    external_id = result["view"]["external_id"]

    def outcome() -> list[dict[str, Any]]:
        pushed = [m for m in bot.fake.modals() if m.get("external_id") == external_id]
        return [m for m in pushed if not _says(m, SAVING)]

    return bot.fake.wait_for(outcome)[0]


def sessions(bot: SlackBot) -> list[Session]:
    with bot.app.db.read() as s:
        return list(s.scalars(select(Session).order_by(Session.id)))


GOOD = {"title": "Sirkulær økonomi", "date": "2026-03-06", "time_of_day": "09:00"}


def test_an_organiser_plans_a_session_through_the_modal(bot: SlackBot) -> None:
    bot.slack.home_opened(OLGA)  # her App Home is seen: it is kept up to date
    bot.fake.wait_for(lambda: bot.fake.homes(OLGA))
    answer, _ = bot.slack.command("planlegg", OLGA)
    assert answer.status_code == 200
    modal = opened_modal(bot)
    assert modal["callback_id"] == ids.SESSION_FORM
    assert [b["block_id"] for b in modal["blocks"] if b["type"] == "input"][:3] == ["title", "date", "time"]
    values = form_values(**GOOD, duration="90", topic="SDG 12", join_url="https://teams.example/m/2")
    outcome = submitted(bot, modal, values, OLGA)
    assert "Økten er lagt inn (nummer 1)" in mrkdwn_texts(outcome)[0]
    assert outcome["clear_on_close"] is True  # closing it closes the whole modal
    [session] = sessions(bot)
    assert (session.title, session.duration_minutes, session.topic) == ("Sirkulær økonomi", 90, "SDG 12")
    assert session.start_at.isoformat() == "2026-03-06T08:00:00+00:00"  # 09:00 in Oslo
    home = bot.fake.wait_for(lambda: bot.fake.homes(OLGA)[1:])[0]  # refreshed after the submission
    assert any("Sirkulær økonomi" in text for text in mrkdwn_texts(home))


def test_the_submission_is_answered_without_waiting_for_the_app_home(bot: SlackBot) -> None:
    bot.slack.home_opened(OLGA)
    bot.fake.wait_for(lambda: bot.fake.homes(OLGA))
    bot.slack.command("planlegg", OLGA)
    modal = opened_modal(bot)
    gate = bot.fake.hold("views.publish")  # Slack is slow to take the refreshed App Home
    try:
        outcome = submitted(bot, modal, form_values(**GOOD), OLGA)
        assert "Økten er lagt inn" in mrkdwn_texts(outcome)[0]
        assert len(sessions(bot)) == 1
        assert len(bot.fake.homes(OLGA)) == 1  # answered before the refresh went through
    finally:
        gate.set()
    assert bot.fake.wait_for(lambda: bot.fake.homes(OLGA)[1:])  # then refreshed beside the inbox worker


# What the form itself cannot use: refused in the answer, under the field.
FORM_REFUSALS: list[tuple[dict[str, str | None], str, str]] = [
    ({"time_of_day": None}, "time", "Velg et klokkeslett"),
    ({"date": None}, "date", "Velg en dato"),
    ({"duration": "en time"}, "duration", "helt antall minutter"),
]
# The core's rules, applied by the inbox worker after the answer: shown in the pushed notice, whose
# close button goes back to the form as it was filled in.
CORE_REFUSALS: list[tuple[dict[str, str | None], str]] = [
    ({"join_url": "teams.example/m/2"}, "er ikke en lenke som begynner med https://"),
    ({"date": "2026-03-03"}, "er allerede passert"),
    ({"date": "2026-03-29", "time_of_day": "02:30"}, "finnes ikke"),  # clocks go forward
    ({"duration": "0"}, "mellom 1 og 1440"),
    ({"title": None}, "trenger en tittel"),
    ({"date": "9999-12-31", "time_of_day": "23:59"}, "mellom 1.1.2000 og 31.12.2100"),
    ({"date": "0001-01-01", "time_of_day": "00:00"}, "mellom 1.1.2000 og 31.12.2100"),
]


def test_refusals_are_shown_under_their_field_or_in_front_of_the_form(
    bot: SlackBot, subtests: pytest.Subtests
) -> None:
    bot.slack.command("planlegg baerekraftsfredag", OLGA)
    modal = opened_modal(bot)
    for change, block, message in FORM_REFUSALS:
        with subtests.test(block=block, message=message):
            result = submitted(bot, modal, form_values(**{**GOOD, **change}), OLGA)  # type: ignore[arg-type]
            assert result["response_action"] == "errors"
            assert list(result["errors"]) == [block]
            assert message in result["errors"][block]
    for change, message in CORE_REFUSALS:
        with subtests.test(message=message):
            outcome = submitted(bot, modal, form_values(**{**GOOD, **change}), OLGA)  # type: ignore[arg-type]
            assert message in mrkdwn_texts(outcome)[0]
            assert outcome["close"]["text"] == "Tilbake" and not outcome.get("clear_on_close")
    assert sessions(bot) == []


def test_someone_else_is_refused_the_modal(bot: SlackBot) -> None:
    bot.slack.command("planlegg", KARI)
    notice = opened_modal(bot)
    assert "callback_id" not in notice and "submit" not in notice
    assert "Det kan bare arrangører for Bærekraftsfredag gjøre" in mrkdwn_texts(notice)[0]


def test_someone_else_clicking_an_organiser_button_gets_a_refusal_modal(bot: SlackBot) -> None:
    bot.slack.click(ids.PLAN_SESSION, "baerekraftsfredag", KARI, where="home")
    notice = opened_modal(bot)
    assert "callback_id" not in notice and "submit" not in notice
    assert "Det kan bare arrangører" in mrkdwn_texts(notice)[0]


def test_a_forged_submission_by_someone_else_changes_nothing(bot: SlackBot) -> None:
    bot.slack.command("planlegg", OLGA)
    outcome = submitted(bot, opened_modal(bot), form_values(**GOOD), KARI)
    assert "Det kan bare arrangører" in mrkdwn_texts(outcome)[0]
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
    outcome = submitted(bot, modal, edited, OLGA)
    assert "Økt 1 er endret (tittel, tidspunkt, tema):" in mrkdwn_texts(outcome)[0]
    cancelled = {**edited, "cancel": {"type": "checkboxes", "selected_options": [{"value": "cancel"}]}}
    outcome = submitted(bot, modal, cancelled, OLGA)
    assert "Økt 1 er avlyst" in mrkdwn_texts(outcome)[0]
    [session] = sessions(bot)
    assert (session.title, session.status) == ("Klimatilpasning", SessionStatus.CANCELLED.value)


def test_an_organiser_adds_slides_to_a_held_session(bot: SlackBot, clock: ManualClock) -> None:
    held = plan(bot.app, "Klima", "2026-03-04 12:00")
    clock.advance(timedelta(hours=3))
    bot.slack.click(ids.ADD_LINK, str(held), OLGA, where="home")
    modal = opened_modal(bot)
    assert modal["callback_id"] == ids.LINK_FORM
    bad = {"link_title": text_input("Lysark"), "link_url": {"type": "url_text_input", "value": "ks.no/x"}}
    outcome = submitted(bot, modal, bad, OLGA)
    assert "https://" in mrkdwn_texts(outcome)[0]
    good = {**bad, "link_url": {"type": "url_text_input", "value": "https://ks.no/lysark.pdf"}}
    good["link_speaker"] = text_input("Ola")
    outcome = submitted(bot, modal, good, OLGA)
    assert outcome.get("clear_on_close") is True
    with bot.app.db.read() as s:
        [link] = s.scalars(select(PresentationLink)).all()
    assert (link.session_id, link.title, link.speaker, link.url, link.kind) == (
        held,
        "Lysark",
        "Ola",
        "https://ks.no/lysark.pdf",
        "slides",
    )


def test_an_organiser_adds_the_recording_through_the_links_kind(bot: SlackBot, clock: ManualClock) -> None:
    held = plan(bot.app, "Klima", "2026-03-04 12:00")
    clock.advance(timedelta(hours=3))
    bot.slack.click(ids.ADD_LINK, str(held), OLGA, where="home")
    modal = opened_modal(bot)
    [kind] = [b for b in modal["blocks"] if b.get("block_id") == "link_kind"]
    assert (
        kind["element"]["type"] == "radio_buttons" and kind["element"]["initial_option"]["value"] == "slides"
    )
    assert [o["text"]["text"] for o in kind["element"]["options"]] == [
        "Presentasjon (lysark)",
        "Opptak (automatisk teksting)",
    ]
    values = {
        "link_title": text_input("Opptak"),
        "link_url": {"type": "url_text_input", "value": "https://video.example/opptak"},
        "link_kind": {"type": "radio_buttons", "selected_option": {"value": "recording"}},
    }
    assert submitted(bot, modal, values, OLGA).get("clear_on_close") is True
    with bot.app.db.read() as s:
        [link] = s.scalars(select(PresentationLink)).all()
    assert (link.title, link.kind) == ("Opptak", "recording")


def test_the_slides_command_and_the_shortcut_open_their_modals(bot: SlackBot) -> None:
    session_id = plan(bot.app, "Klima", "2026-03-06 09:00")
    bot.slack.command(f"lysark {session_id}", OLGA)
    assert opened_modal(bot, 1)["callback_id"] == ids.LINK_FORM
    assert bot.slack.shortcut(ids.PLAN_SHORTCUT, OLGA).status_code == 200
    assert opened_modal(bot, 2)["callback_id"] == ids.SESSION_FORM


def test_an_unknown_session_is_a_clear_answer(bot: SlackBot) -> None:
    bot.slack.command("planlegg 42", OLGA)
    assert "Jeg finner ingen økt med nummer 42" in mrkdwn_texts(opened_modal(bot))[0]


# --- Slack's deadlines: a trigger id opens a view within 3 s; a submission is answered within 3 s ---


def test_planlegg_opens_the_modal_though_users_info_is_rate_limited(bot: SlackBot) -> None:
    bot.fake.rate_limit("users.info", times=1, retry_after=4)  # the worker waits 4 s to learn who it is
    bot.slack.command("planlegg", OLGA)
    [opened] = bot.fake.calls("views.open")  # opened with the ack, before anyone asked who Olga is
    assert opened.error is None
    # (the worker may ask at once after the ack: the order, not the moment of looking, is the point)
    assert all(opened.at < asked.at for asked in bot.fake.calls("users.info"))
    form = opened_modal(bot)  # then filled in, once users.info answered
    assert form["callback_id"] == ids.SESSION_FORM
    assert [c.status for c in bot.fake.calls("users.info")] == [429, 200]
    [update] = bot.fake.calls("views.update")  # the opened view, unless it changed since
    assert update.params["view_id"] == form["id"] and update.params["hash"]


def test_the_shortcut_opens_the_modal_behind_a_queue_of_app_home_opens(bot: SlackBot) -> None:
    gates = [bot.fake.hold("views.publish") for _ in range(4)]  # every inbox thread busy with App Home
    try:
        for number in range(6):
            bot.slack.home_opened(KARI if number % 2 else JOHN)
        assert bot.slack.shortcut(ids.PLAN_SHORTCUT, OLGA).status_code == 200
        bot.fake.wait_for(lambda: [c for c in bot.fake.calls("views.open") if c.error is None])
        bot.fake.advance(4)  # the queue takes its time: the trigger id has expired meanwhile
    finally:
        for gate in gates:
            gate.set()
    assert opened_modal(bot)["callback_id"] == ids.SESSION_FORM


def test_a_modal_that_cannot_open_is_told_where_the_user_acted(bot: SlackBot) -> None:
    bot.fake.fail("views.open", Fault(error="expired_trigger_id"), times=2)
    _, key = bot.slack.command("planlegg", OLGA)
    assert "Skjemaet rakk ikke å åpne seg" in bot.response(key)["text"]
    bot.slack.shortcut(ids.PLAN_SHORTCUT, OLGA)  # no response_url: a direct message
    [message] = bot.fake.wait_for(lambda: bot.fake.messages(OLGA))
    assert "Skjemaet rakk ikke å åpne seg" in message["text"]


def test_the_fake_lets_a_trigger_id_open_one_view_within_3_seconds(bot: SlackBot) -> None:
    client = bot.app.channel(SlackChannel).client  # type: ignore[union-attr]
    notice = {"type": "modal", "title": {"type": "plain_text", "text": "Hei"}, "blocks": []}
    assert client.api_call("views.open", json={"trigger_id": bot.fake.issue_trigger("t1"), "view": notice})
    for trigger, error in (("t1", "exchanged_trigger_id"), ("t0", "invalid_trigger_id")):
        with pytest.raises(SlackApiError, match=error):
            client.api_call("views.open", json={"trigger_id": trigger, "view": notice})
    bot.fake.issue_trigger("t2")
    bot.fake.advance(3.1)
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.api_call("views.open", json={"trigger_id": "t2", "view": notice})


def test_a_submission_is_answered_before_users_info_and_carried_out_once(bot: SlackBot) -> None:
    bot.slack.command("planlegg", OLGA)
    modal = opened_modal(bot)
    slack = bot.app.channel(SlackChannel)
    assert slack is not None  # the front process has a user cache of its own: here, an empty one
    slack.conversation.directory = SlackDirectory(slack.api, bot.app.clock)
    asked = len(bot.fake.calls("users.info"))
    gate = bot.fake.hold("users.info")  # Slack is slow to say who Olga is
    try:
        answer = bot.slack.submit(modal, form_values(**GOOD), OLGA).json()
        assert answer["response_action"] == "push" and "lagrer" in mrkdwn_texts(answer["view"])[0]
        assert len(bot.fake.calls("users.info")) == asked  # answered while users.info was still held
    finally:
        gate.set()
    outcome = bot.fake.wait_for(
        lambda: [m for m in bot.fake.modals() if m.get("external_id") and "lagt inn" in mrkdwn_texts(m)[0]]
    )
    assert len(outcome) == 1
    again = bot.slack.submit(modal, form_values(**GOOD), OLGA).json()  # the same form, sent again
    assert "allerede sendt inn" in mrkdwn_texts(again["view"])[0]
    assert len(sessions(bot)) == 1


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
    bot.slack.submit(modal, edited, OLGA)
    bot.fake.wait_for(
        lambda: [m for m in bot.fake.modals() if m.get("external_id") and "er endret" in mrkdwn_texts(m)[0]]
    )
    [session] = sessions(bot)
    assert (session.title, session.description) == ("Klimatilpasning", "Lang tekst. " * 400)


def test_a_description_fits_the_modal_or_is_refused_in_the_users_language(bot: SlackBot) -> None:
    bot.slack.command("planlegg", OLGA)
    modal = opened_modal(bot)
    [field] = [b["element"] for b in modal["blocks"] if b.get("block_id") == "description"]
    assert field["max_length"] == 3000
    answer = bot.slack.submit(modal, form_values(**GOOD, description="x" * 3000), OLGA).json()
    assert answer["response_action"] == "push"  # taken: its outcome follows
    [session] = bot.fake.wait_for(lambda: sessions(bot))
    reply = bot.app.dispatcher.execute(ORGANISER, parse(f"endre økt {session.id} beskrivelse={'y' * 3001}"))
    assert (
        bot.app.renderer.reply(reply)
        == "Beskrivelsen er for lang: høyst 3000 tegn. Kort den ned og prøv igjen."
    )


@pytest.mark.parametrize("number", ["2147483648", "99999999999999999999"])
def test_a_session_number_out_of_range_is_no_session(bot: SlackBot, number: str) -> None:
    bot.slack.command(f"lysark {number}", OLGA)  # the refusal in the modal opened for it
    assert "Jeg finner ingen økt med nummer" in mrkdwn_texts(opened_modal(bot))[0]
    bot.slack.click(ids.EDIT_SESSION, number, OLGA, where="home")
    notice = opened_modal(bot, 2)
    assert "callback_id" not in notice
    assert "Jeg finner ingen økt med nummer" in mrkdwn_texts(notice)[0]
