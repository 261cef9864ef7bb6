"""bot.text.normalise: the folding the parser matches command words with."""

from __future__ import annotations

import pytest

from bot.text import normalise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meld på", "meld pa"),
        ("Meld PÅ", "meld pa"),
        ("MELD  MEG   PÅ", "meld meg pa"),
        ("  meld på  ", "meld pa"),
        ("meld\u00a0på", "meld pa"),  # NBSP
        ("meld\tpå\n", "meld pa"),
        ("meld\r\n\r\npå", "meld pa"),
        ("meld\u2003\u3000på", "meld pa"),  # em space, ideographic space
        ("meld\u2028på", "meld pa"),  # line separator
        ("ny økt", "ny okt"),
        ("NY ØKT", "ny okt"),
        ("hjælp", "hjaelp"),
        ("HJÆLP", "hjaelp"),
        ("næste", "naeste"),
        ("oplægsholder", "oplaegsholder"),
        ("arrangør", "arrangor"),
        ("Bærekraftsfredag", "baerekraftsfredag"),
        ("café", "cafe"),
        ("cafe\u0301", "cafe"),  # decomposed é
        ("Ångström", "angstrom"),
        ("lørdag", "lordag"),
        ("søndag", "sondag"),
        ("Straße", "strasse"),
        ("ｈｅｌｐ", "help"),  # full-width letters
        ("ﬁre", "fire"),  # ligature
        ("\ufeffhjelp", "hjelp"),  # byte order mark
        ("hj\u200belp", "hjelp"),  # zero-width space inside a word
        ("status?", "status?"),  # punctuation is the parser's business
        ("", ""),
        ("   \u00a0\t\n ", ""),
        ("🎉 Fest!", "🎉 fest!"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize("text", ["meld på", "Ærlig talt ØÅ", "a\u00a0b\tc", "ÉÇÑ ß", "🎉  x"])
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@pytest.mark.parametrize("text", ["\ud800", "\x00\x01", "\U0010ffff", "a" * 5000, "\u0301\u0301"])
def test_normalise_accepts_odd_strings(text: str) -> None:
    result = normalise(text)
    assert result == result.strip()
    assert "  " not in result


def test_normalise_leaves_no_combining_marks_or_upper_case() -> None:
    text = "ÅÄÖ ÉÈÊ Ñ Ç ŸÜ"
    result = normalise(text)
    assert result == "aao eee n c yu"
