"""bot.parser meeting people halfway: keyboard spellings, nouns, small talk, the language command, the
languages of the words (`said_in`), «Mente du …?» suggestions and dates as people write them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.commands import (
    AddSession,
    Archive,
    ChangeSession,
    Command,
    ForgetMe,
    Help,
    Invalid,
    NextSession,
    OpenStart,
    Recurrence,
    SessionFields,
    SetLanguage,
    SetRecurrence,
    SmallTalk,
    Subscribe,
    Unknown,
    Unsubscribe,
)
from bot.parser import ALIASES, parse
from bot.parser.suggestions import distance
from bot.services.errors import UserError
from bot.services.start_dates import settle

# --- keyboard spellings and nouns --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meld paa", Subscribe()),
        ("MELD MEG PAA verdensmaal", Subscribe("verdensmaal")),
        ("mld på", Subscribe()),
        ("påmelding", Subscribe()),
        ("paamelding", Subscribe()),
        ("tilmelding", Subscribe()),
        ("avmelding", Unsubscribe()),
        ("frameld", Unsubscribe()),
        ("frameld mig", Unsubscribe()),
        ("framelding", Unsubscribe()),
        ("afmelding", Unsubscribe()),
        ("glem mig", ForgetMe()),
        ("glem mig bekræft", ForgetMe(confirmed=True)),
        ("lysark", Archive()),
        ("opptak", Archive()),
        ("presentasjoner", Archive()),
        ("presentasjonar", Archive()),
        ("præsentationer", Archive()),
        ("naeste moede", NextSession()),
        ("hjaelp", Help()),
        (
            "gjentakelse foerste fredag i maaneden 09:00-10:00",
            SetRecurrence(Recurrence(1, 4, time(9), time(10))),
        ),
        (
            "gjentaking fyrste fredag 09:00-10:00",
            SetRecurrence(Recurrence(1, 4, time(9), time(10))),
        ),
        ("gjentaking første laurdag 09:00-10:00", SetRecurrence(Recurrence(1, 5, time(9), time(10)))),
    ],
)
def test_people_s_spellings_and_nouns(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_a_slug_keeps_its_letters() -> None:
    """Only command words are read with `aa` as `å`: a series' short name is matched as written."""
    assert parse("meld paa verdensmaal") == Subscribe("verdensmaal")


# --- small talk -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hei", SmallTalk("greeting")),
        ("Hei!", SmallTalk("greeting")),
        ("hallo", SmallTalk("greeting")),
        ("hej", SmallTalk("greeting")),
        ("hei hei", SmallTalk("greeting")),
        ("takk", SmallTalk("thanks")),
        ("tak", SmallTalk("thanks")),
        ("thanks", SmallTalk("thanks")),
        ("Tusen takk for hjelpen!", SmallTalk("thanks")),
        ("takk for i dag 🙏", SmallTalk("thanks")),
        ("hei, meld meg på", Subscribe()),
        ("Hej! Tilmeld mig", Subscribe()),
        ("hello, next session", NextSession()),
        ("takk, meld meg av", Unsubscribe()),
        (
            "hei, ny økt 2026-03-06 9:00 X",
            AddSession(SessionFields(title="X", start_local=datetime(2026, 3, 6, 9))),
        ),
        ("Hei! Når er neste økt?", Unknown("Hei! Når er neste økt?", "neste økt")),
        ("hei mled på", Unknown("hei mled på", "meld på")),
    ],
)
def test_small_talk(text: str, expected: Command) -> None:
    assert parse(text) == expected


# --- the language command -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("språk en", SetLanguage("en")),
        ("sprak EN", SetLanguage("en")),
        ("språk engelsk", SetLanguage("en")),
        ("language nb", SetLanguage("nb")),
        ("language Norwegian", SetLanguage("nb")),
        ("språk norsk bokmål", SetLanguage("nb")),
        ("sprog da", SetLanguage("da")),
        ("sprog dansk", SetLanguage("da")),
        ("mål nn", SetLanguage("nn")),
        ("målform nynorsk", SetLanguage("nn")),
        ("språk", SetLanguage()),
        ("language?", SetLanguage()),
        ("språk klingon", SetLanguage("klingon")),
        ("language fr-FR", SetLanguage("fr-FR")),
        ("språk " + "x" * 100, SetLanguage("x" * 40)),
        ("språk \x00", SetLanguage()),
        ("språk en\u200b", SetLanguage("en")),
    ],
)
def test_language_command(text: str, expected: Command) -> None:
    assert parse(text) == expected


# --- the language of the words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "languages"),
    [
        ("subscribe", {"en"}),
        ("tilmeld", {"da"}),
        ("meld på", {"nb", "nn"}),
        ("meld paa", {"nb", "nn"}),
        ("hva vet du om meg", {"nb"}),
        ("kva veit du om meg", {"nn"}),
        ("presentasjonar", {"nn"}),
        ("gjentakelse første fredag 09:00-10:00", {"nb"}),
        ("arkiv", {"nb", "nn", "da"}),
        ("stop", {"en", "da"}),
        ("dm til", {"nb", "nn", "da"}),
        ("fjern arrangør kari@kommune.no", {"nb", "nn", "da"}),
        ("status", set()),
        ("slides", set()),
        ("?", set()),
        ("hallo", set()),
        ("hei", {"nb", "nn"}),
        ("hei, subscribe", {"en"}),
        ("hei, status", {"nb", "nn"}),
        ("ny økt 2026-03-06 09:00 Klima", {"nb", "nn"}),
        ("add session 2026-02-30 09:00 X", {"en"}),  # Invalid keeps the command's words' language
        ("unsubcribe", {"en"}),  # Unknown: the language of the suggestion
        ("blah blah", set()),
        ("", set()),
    ],
)
def test_said_in(text: str, languages: set[str]) -> None:
    assert parse(text).said_in == languages


def test_every_alias_reports_a_known_language_or_none() -> None:
    for aliases in ALIASES.values():
        for alias in aliases:
            assert parse(alias).said_in <= {"nb", "nn", "en", "da"}, alias


def test_said_in_does_not_change_what_a_command_is() -> None:
    assert parse("subscribe") == parse("tilmeld") == parse("meld på")


# --- «Mente du …?» -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("mled på", "meld på"),
        ("meld pø", "meld på"),
        ("meld", "meld på"),
        ("staus", "status"),
        ("unsubcribe", "unsubscribe"),
        ("tilmedl", "tilmeld"),
        ("hjlep", "hjelp"),
        ("arkv", "arkiv"),
        ("avlsy økt 3", "avlys økt"),
        ("mine dta", "mine data"),
        ("x", None),
        ("ok", None),
        ("hvor ligger kantina", None),
        ("jeg vil gjerne melde meg på", "melde meg på"),
        ("kan jeg få lysark fra forrige gang?", "lysark"),
        ("hva er status nå", "status"),
        ("jeg sa hei og takk ?", None),
        ("🎉", None),
        ("<b>meld på</b>", None),
    ],
)
def test_suggestion(text: str, suggestion: str | None) -> None:
    result = parse(text)
    assert isinstance(result, Unknown)
    assert result.suggestion == suggestion
    assert result.text == text


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("meld pa", "meld pa", 0), ("mled pa", "meld pa", 1), ("staus", "status", 1), ("abc", "xyz", 3)],
)
def test_distance(a: str, b: str, expected: int) -> None:
    assert distance(a, b, 5) == expected
    assert distance(a, b, 0) == (0 if expected == 0 else 1)


# --- dates as people write them ------------------------------------------------------------------------


def add(start: datetime | OpenStart, title: str = "Klima") -> AddSession:
    if isinstance(start, datetime):
        return AddSession(SessionFields(title=title, start_local=start))
    return AddSession(SessionFields(title=title, open_start=start))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ny økt 5. mars 2027 kl 9 Klima", add(datetime(2027, 3, 5, 9))),
        ("ny økt 5. mars 2027 kl. 09.30 Klima", add(datetime(2027, 3, 5, 9, 30))),
        ("ny økt 5 marts 2027 klokken 14 Klima", add(datetime(2027, 3, 5, 14))),
        ("ny økt 5.3.2027 09:00 Klima", add(datetime(2027, 3, 5, 9))),
        ("ny økt 5/3/2027 kl. 9 Klima", add(datetime(2027, 3, 5, 9))),
        ("add session March 5, 2027 at 9:00 Climate", add(datetime(2027, 3, 5, 9), "Climate")),
        ("ny økt fredag 5/3 kl. 9 Klima", add(OpenStart(3, 5, time(9), weekday=4))),
        ("ny økt fre. 5. mars kl 9 Klima", add(OpenStart(3, 5, time(9), weekday=4))),
        ("ny session fredag den 5. marts kl. 9 Klima", add(OpenStart(3, 5, time(9), weekday=4))),
        ("ny økt fredag 5. mars 2027 kl 9 Klima", add(OpenStart(3, 5, time(9), year=2027, weekday=4))),
        ("ny økt 5/3 kl 9 Klima", add(OpenStart(3, 5, time(9)))),
        ("ny økt 5.3. kl 9 Klima", add(OpenStart(3, 5, time(9)))),
        ("ny økt 29/2 kl 9 Skuddår", add(OpenStart(2, 29, time(9)), "Skuddår")),
        (
            "ny økt verdensmaal fredag 5/3 kl 9 Klima",
            AddSession(
                SessionFields(title="Klima", open_start=OpenStart(3, 5, time(9), weekday=4)), "verdensmaal"
            ),
        ),
        ("ny økt; start=fredag 5/3 kl 9; tittel=X", add(OpenStart(3, 5, time(9), weekday=4), "X")),
        (
            "endre 3 start=5. mars kl 10",
            ChangeSession(3, SessionFields(open_start=OpenStart(3, 5, time(10)))),
        ),
        ("add session 5 March 2027 9am Climate", add(datetime(2027, 3, 5, 9), "Climate")),
        ("add session 5 March 2027 at 2:30 pm Climate", add(datetime(2027, 3, 5, 14, 30), "Climate")),
        ("add session 5 March 2027 12am Midnight", add(datetime(2027, 3, 5, 0), "Midnight")),
        ("add session 5 March 2027 12 PM Noon", add(datetime(2027, 3, 5, 12), "Noon")),
        # problems
        ("add session 5 March 2027 0am X", Invalid("add_session", "bad_time", "0am")),
        ("ny økt 31. april 2027 kl 9 X", Invalid("add_session", "bad_date", "31. april 2027")),
        ("ny økt 30/2 kl 9 X", Invalid("add_session", "bad_date", "30/2")),
        ("ny økt fredag Klima", Invalid("add_session", "missing_start")),
        ("ny økt fredag", Invalid("add_session", "missing_start")),
        ("ny økt X; start=fredag", Invalid("add_session", "bad_date", "fredag")),
        ("ny økt X; start=fredag 5/3", Invalid("add_session", "bad_time", "fredag 5/3")),
        ("ny økt 5. mars 2027 9 X", Invalid("add_session", "bad_time", "9")),
        ("ny økt 5. mars 2027 kl 25 X", Invalid("add_session", "bad_time", "25")),
        ("ny økt 5. mars 2027 X", Invalid("add_session", "missing_start")),
        ("ny økt 5. mars 1999 kl 9 X", Invalid("add_session", "date_out_of_range", "5. mars 1999")),
    ],
)
def test_dates_as_people_write_them(text: str, expected: Command) -> None:
    assert parse(text) == expected


NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # Wednesday, 11:00 in Oslo


def open_fields(start: OpenStart) -> SessionFields:
    return SessionFields(open_start=start)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (OpenStart(3, 5, time(9)), datetime(2026, 3, 5, 9)),
        (OpenStart(3, 4, time(12)), datetime(2026, 3, 4, 12)),  # later today
        (OpenStart(3, 4, time(9)), datetime(2027, 3, 4, 9)),  # passed today: next year
        (OpenStart(1, 15, time(9)), datetime(2027, 1, 15, 9)),
        (OpenStart(2, 29, time(9)), datetime(2028, 2, 29, 9)),
        (OpenStart(3, 5, time(9), weekday=3), datetime(2026, 3, 5, 9)),
        (OpenStart(3, 5, time(9), year=2027, weekday=4), datetime(2027, 3, 5, 9)),
    ],
)
def test_settling_an_open_start(start: OpenStart, expected: datetime) -> None:
    settled = settle(open_fields(start), "Europe/Oslo", NOW)
    assert (settled.start_local, settled.open_start) == (expected, None)


def test_a_weekday_that_does_not_fit_is_refused_with_both() -> None:
    with pytest.raises(UserError) as refused:
        settle(open_fields(OpenStart(3, 5, time(9), weekday=4)), "Europe/Oslo", NOW)
    assert refused.value.key == "weekday_mismatch"
    assert refused.value.data == {"date": date(2026, 3, 5), "written": 4, "actual": 3}


def test_the_series_time_zone_decides_today() -> None:
    # 00:30 UTC on 5 March is 09:30 in Tokyo, past 09:00 there, and 01:30 in Oslo.
    late = datetime(2026, 3, 5, 0, 30, tzinfo=UTC)
    assert settle(open_fields(OpenStart(3, 5, time(9))), "Asia/Tokyo", late).start_local == datetime(
        2027, 3, 5, 9
    )
    assert settle(open_fields(OpenStart(3, 5, time(9))), "Europe/Oslo", late).start_local == datetime(
        2026, 3, 5, 9
    )
