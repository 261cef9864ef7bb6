"""The four languages: tags to languages, series and people in Danish and nynorsk, refusals listing
the languages the bot speaks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.entry.cli.common import operator
from bot.entry.composition import App
from bot.languages import NAMES, NATIVE, from_accept_language, from_tag, name_of
from bot.models import AuditEvent, Series
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.series import create_series, resolve_series, set_language
from bot.settings import LANGUAGES, Reader, core_settings
from tests.conftest import person


def add_series(app: App, slug: str, language: str) -> None:
    with app.db.transaction() as s:
        create_series(
            Ctx(s, operator(), app.clock.now(), app.config), slug, slug.title(), language, "Europe/Oslo"
        )


def test_the_bot_speaks_four_languages() -> None:
    assert LANGUAGES == ("nb", "en", "da", "nn")


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("nb", "nb"),
        ("nb-NO", "nb"),
        ("no", "nb"),
        ("NO-no", "nb"),
        ("nn-NO", "nn"),
        ("nn", "nn"),
        ("da-DK", "da"),
        ("da_DK", "da"),
        ("en-GB", "en"),
        ("sv-SE", None),
        ("sv", None),
        ("de", None),
        ("", None),
        (None, None),
        ("*", None),
    ],
)
def test_a_tag_maps_to_one_of_our_languages_or_none(tag: str | None, language: str | None) -> None:
    assert from_tag(tag) == language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("da-DK,da;q=0.9,en-US;q=0.8,en;q=0.7", "da"),
        ("nn-NO,nn;q=0.9,nb;q=0.8", "nn"),
        ("no;q=0.8, en;q=0.9", "en"),
        ("sv-SE,sv;q=0.9", None),  # not Danish, not bokmål: the caller's fallback (the series)
        ("sv, da;q=0.5", "da"),
        ("en;q=0, nb;q=0.1", "nb"),
        ("en;q=nan, da;q=0.2", "da"),
        ("nb, da", "nb"),  # equal quality: the first
        ("", None),
    ],
)
def test_accept_language_by_quality_then_order(header: str, language: str | None) -> None:
    assert from_accept_language(header) == language


def test_each_language_is_named_in_each_language() -> None:
    assert set(NATIVE) == set(NAMES) == set(LANGUAGES)
    assert all(set(names) == set(LANGUAGES) for names in NAMES.values())
    assert name_of("nn", "nb") == "norsk nynorsk"
    assert name_of("da", "en") == "Danish"
    assert name_of("nb", "da") == "norsk bokmål"
    assert name_of("en", "nn") == "engelsk"
    assert name_of("fr", "nb") == "fr"


@pytest.mark.parametrize("language", ["da", "nn"])
def test_bot_language_takes_danish_and_nynorsk(language: str) -> None:
    reader = Reader({"BOT_LANGUAGE": language})
    assert core_settings(reader).language == language and reader.problems == []


def test_bot_language_refuses_an_unknown_one_with_the_list() -> None:
    reader = Reader({"BOT_LANGUAGE": "sv"})
    core_settings(reader)
    assert reader.problems == ["BOT_LANGUAGE: 'sv' is not one of nb, en, da, nn"]


def test_a_series_in_french_is_refused_with_the_languages_the_bot_speaks(app: App) -> None:
    with pytest.raises(UserError) as refused:
        add_series(app, "fransk", "fr")
    text = app.renderer.render(
        f"replies/{refused.value.key}.txt", refused.value.data, language="nb", timezone="Europe/Oslo"
    )
    assert text == "Språket «fr» kan jeg ikke; velg et av disse: nb, en, da, nn."
    with app.db.read() as s:
        assert s.scalar(select(Series).where(Series.slug == "fransk")) is None


def test_a_nynorsk_series_answers_a_new_person_in_nynorsk(app: App, say: Callable[..., str]) -> None:
    add_series(app, "nynorsk", "nn")
    reply = say(person("nils@kommune.no"), "meld på nynorsk")
    assert reply.startswith("Du er no påmeld Nynorsk. Du får invitasjon og påminningar før kvar økt.")
    assert "Det er ikkje sett opp noka ny økt enno." in reply


def test_a_danish_series_answers_a_new_person_in_danish(app: App, say: Callable[..., str]) -> None:
    add_series(app, "verdensmaal", "da")
    reply = say(person("dorte@kommune.dk"), "tilmeld verdensmaal")
    assert reply.startswith("Du er nu tilmeldt Verdensmaal.")
    assert "Skriv »afmeld«, når du vil stoppe." in reply
    assert "Du er ikke tilmeldt Verdensmaal." in say(person("ib@kommune.dk"), "status verdensmaal")


def test_a_persons_own_language_wins_over_the_series(app: App, say: Callable[..., str]) -> None:
    add_series(app, "verdensmaal", "da")
    assert say(person("kari@kommune.no", language="nn"), "status verdensmaal").startswith(
        "Du er ikkje påmeld Verdensmaal."
    )


def test_changing_a_series_language_is_audited_and_refuses_unknown_ones(
    app: App, say: Callable[..., str]
) -> None:
    add_series(app, "verdensmaal", "nb")
    with app.db.transaction() as s:
        ctx = Ctx(s, operator(), app.clock.now(), app.config)
        series = resolve_series(ctx, "verdensmaal")
        assert set_language(ctx, series, "da") is True
        assert set_language(ctx, series, "da") is False
        with pytest.raises(UserError) as refused:
            set_language(ctx, series, "fr")
        assert refused.value.data["supported"] == ["nb", "en", "da", "nn"]
    with app.db.read() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "series.language_set")).all()
        assert [(e.details or {}).get("language") for e in events] == ["da"]
    assert "Du er nu tilmeldt" in say(person("dorte@kommune.dk"), "tilmeld verdensmaal")


def test_my_data_names_channels_and_language_in_the_readers_language(
    app: App, say: Callable[..., str]
) -> None:
    kari = person("kari@kommune.no", name="Kari", language="nn")
    say(kari, "meld på")
    mine = say(kari, "mine data")
    assert "Språk: norsk nynorsk" in mine
    assert "Her når eg deg: e-post" in mine
    assert "(via konsollen)" in mine
    assert "email" not in mine.replace("kari@kommune.no", "") and "console" not in mine.replace(
        "console:", ""
    )
    john = person("john@example.org", language="en")
    say(john, "subscribe")
    english = say(john, "my data")
    assert "Language: English" in english and "Where I reach you: e-mail" in english
    assert "(via the console)" in english
