"""A parser that meets people halfway (issue 17, item 3), through parse → dispatch → render: help for
subscribers and organisers, «Mente du …?», small talk, and dates as people write them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.entry.composition import App
from bot.models import Session, Subscription
from bot.rendering import Renderer
from bot.settings import LANGUAGES
from handlers.slack import TEMPLATES as SLACK_TEMPLATES
from tests.conftest import ORGANISER, person

KARI = person("kari@kommune.no")
OLA = person("ola@kommune.no")  # organiser of the series, not the operator


def start_of(app: App, title: str) -> datetime:
    with app.db.read() as s:
        return s.scalars(select(Session).where(Session.title == title)).one().start_at.astimezone(UTC)


# --- help, unknown input, small talk ---------------------------------------------------------------


def test_help_shows_the_organiser_part_only_to_organisers(say: Callable[..., str]) -> None:
    subscriber = say(KARI, "hjelp")
    assert "meld på" in subscriber and "språk en" in subscriber
    assert "For arrangører" not in subscriber and "ny økt" not in subscriber
    assert "For arrangører" in say(ORGANISER, "hjelp")
    say(ORGANISER, "gi arrangør ola@kommune.no")
    assert "For arrangører" in say(OLA, "hjelp")
    assert "For organisers" not in say(person("john@example.org"), "help")


def test_unknown_input_suggests_the_nearest_command_and_a_short_help(say: Callable[..., str]) -> None:
    reply = say(KARI, "mled på")
    assert reply.startswith("Det forstod jeg ikke: «mled på». Mente du «meld på»?")
    assert "meld av" in reply and "arrangør" not in reply
    assert len(reply.splitlines()) <= 8
    assert "Som arrangør kan du også" in say(ORGANISER, "avlsy økt 3")


def test_unknown_input_far_from_any_command_gets_no_guess(say: Callable[..., str]) -> None:
    reply = say(KARI, "hvor ligger kantina")
    assert "Mente du" not in reply
    assert "Det forstod jeg ikke: «hvor ligger kantina»." in reply


def test_a_long_unknown_line_is_shown_shortened(say: Callable[..., str]) -> None:
    reply = say(KARI, "bla " * 300)
    first = reply.splitlines()[0]
    assert "…" in first and len(first) < 140


def test_greetings_and_thanks_get_a_short_friendly_answer(say: Callable[..., str]) -> None:
    assert say(KARI, "hei").startswith("Hei! Skriv «meld på»")
    assert say(KARI, "Tusen takk!") == "Bare hyggelig!"
    assert say(person("john@example.org"), "thanks") == "You're welcome!"
    assert say(person("mette@region.dk"), "hej").startswith("Hej! Skriv »tilmeld«")


def test_a_greeting_before_a_command_is_skipped(app: App, say: Callable[..., str]) -> None:
    assert "Du er nå påmeldt" in say(KARI, "Hei, meld meg paa")
    with app.db.read() as s:
        assert len(s.scalars(select(Subscription)).all()) == 1


def test_nouns_and_keyboard_spellings_reach_their_commands(say: Callable[..., str]) -> None:
    assert "Du er nå påmeldt" in say(KARI, "påmelding")
    assert "Du er meldt av" in say(KARI, "avmelding")
    assert "Du er nå påmeldt" in say(KARI, "mld på")
    assert "Du er meldt av" in say(KARI, "meld meg av")
    assert "Du er nå påmeldt" in say(KARI, "meld paa")


# --- dates as people write them (now: Wednesday 4 March 2026, 11:00 in Oslo) ----------------------


def test_a_date_with_the_month_written_out_and_an_hour_alone(app: App, say: Callable[..., str]) -> None:
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 5. mars 2027 kl 9 Klima")
    assert start_of(app, "Klima") == datetime(2027, 3, 5, 8, 0, tzinfo=UTC)  # 09:00 in Oslo


def test_a_date_without_year_is_the_next_such_day(app: App, say: Callable[..., str]) -> None:
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt torsdag 5/3 kl. 9 Sirkulært")
    assert start_of(app, "Sirkulært") == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    # 4 March 09:00 has passed today: that is next year's.
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 4.3. kl. 9 Neste år")
    assert start_of(app, "Neste år") == datetime(2027, 3, 4, 8, 0, tzinfo=UTC)


def test_a_dotted_date_with_a_clock(app: App, say: Callable[..., str]) -> None:
    assert "Økten er lagt inn" in say(ORGANISER, "ny økt 5.3.2027 09:00 Prikker")
    assert start_of(app, "Prikker") == datetime(2027, 3, 5, 8, 0, tzinfo=UTC)


def test_a_weekday_that_does_not_match_the_date_is_refused(app: App, say: Callable[..., str]) -> None:
    # 5 March 2026 is a Thursday.
    reply = say(ORGANISER, "ny økt fredag 5/3 kl. 9 Feil dag")
    assert reply == "5. mars 2026 er en torsdag, ikke en fredag. Se over datoen og prøv igjen."
    assert "is a Thursday, not a Friday" in say(ORGANISER, "add session Friday 5 March 2026 at 9:00 Wrong")
    with app.db.read() as s:
        assert s.scalars(select(Session)).all() == []


def test_a_start_change_takes_the_same_dates(app: App, say: Callable[..., str]) -> None:
    say(ORGANISER, "ny økt 2026-03-20 09:00 Flyttes")
    assert "endret" in say(ORGANISER, "endre 1 start=fredag 27. mars kl 10").lower()
    assert start_of(app, "Flyttes") == datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    assert "er en fredag, ikke en torsdag" in say(ORGANISER, "endre 1 start=torsdag 27/3 kl 10")


@pytest.mark.parametrize(
    ("template", "marker"),
    [("replies/help.txt", "2026-03-06"), ("slack/help_extra.txt", "/baerekraft")],
)
def test_every_language_keeps_the_organiser_help_for_organisers(template: str, marker: str) -> None:
    """The organiser commands (marked by their example date, or Slack's command) show only when the
    reader organises, in every language that has the help; a new translation must keep the `if`."""
    assert SLACK_TEMPLATES is not None
    renderer = Renderer(channel_templates={"slack": SLACK_TEMPLATES})
    checked = [language for language in LANGUAGES if renderer.has(template, language=language)]
    assert "nb" in checked and "en" in checked
    for language in checked:
        for organiser in (True, False):
            data = {"unknown": None, "organiser": organiser}
            text = renderer.render(template, data, language=language, timezone="Europe/Oslo")
            assert (marker in text) is organiser, (language, organiser)
