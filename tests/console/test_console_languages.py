"""Issue 17 from the outside, in the console through a pipe: replies in the language people write in,
and a parser that meets them halfway. A real process, as an operator would run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.test_console import bot

pytestmark = pytest.mark.slow  # starts real processes


def test_a_new_person_is_answered_in_the_language_of_their_words(db_url: str, tmp_path: Path) -> None:
    done = bot(["shell", "--as", "john@example.org"], "subscribe\nmeld av\nstatus\n", db_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "You are now subscribed to Bærekraftsfredag" in done.stdout
    # English is John's now: Norwegian words do not change it.
    assert "You have left Bærekraftsfredag" in done.stdout
    assert "Du er" not in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_keyboard_spellings_small_talk_and_a_chosen_language(db_url: str, tmp_path: Path) -> None:
    done = bot(
        ["shell", "--as", "kari@kommune.no"],
        "hei\nmeld paa\nmled av\ntakk\nlanguage en\nstatus\nspråk klingon\n",
        db_url,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Hei! Skriv «meld på»" in out
    assert "Du er nå påmeldt Bærekraftsfredag" in out
    assert "Det forstod jeg ikke: «mled av». Mente du «meld av»?" in out
    assert "Bare hyggelig!" in out
    assert "from now on I'll write to you in English" in out
    assert "You are subscribed to Bærekraftsfredag" in out
    assert "I don't speak “klingon”" in out
    assert "Traceback" not in out + done.stderr


def test_a_danish_and_a_nynorsk_series_answer_newcomers_in_their_words(db_url: str, tmp_path: Path) -> None:
    for slug, name, language in (("verdensmaal", "Verdensmålsnetværk", "da"), ("fjordane", "Fjordane", "nn")):
        added = bot(
            ["series", "add", "--slug", slug, "--name", name, "--language", language], "", db_url, tmp_path
        )
        assert added.returncode == 0, added.stderr
    dane = bot(["shell", "--as", "mette@region.dk"], "tilmeld verdensmaal\nhjælp\n", db_url, tmp_path)
    assert dane.returncode == 0, dane.stderr
    assert "Du er nu tilmeldt Verdensmålsnetværk" in dane.stdout
    assert "sprog da" in dane.stdout and "For arrangører" not in dane.stdout
    english = bot(["shell", "--as", "john@example.org"], "subscribe verdensmaal\n", db_url, tmp_path)
    assert "You are now subscribed to Verdensmålsnetværk" in english.stdout
    nynorsk = bot(["shell", "--as", "ola@kommune.no"], "meld paa fjordane\n", db_url, tmp_path)
    assert "Du er no påmeld Fjordane" in nynorsk.stdout
    assert "Traceback" not in dane.stdout + dane.stderr + english.stdout + nynorsk.stdout + nynorsk.stderr
