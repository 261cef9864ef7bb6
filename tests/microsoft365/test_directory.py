"""A Teams user's preferred language (from the directory) to the bot's language."""

from __future__ import annotations

import pytest

from handlers.microsoft365.directory import language_of


@pytest.mark.parametrize(
    ("preferred", "language"),
    [
        ("nb-NO", "nb"),
        ("no", "nb"),
        ("nn-NO", "nn"),
        ("da-DK", "da"),
        ("en-US", "en"),
        ("sv-SE", None),  # the series' language, not a neighbour's
        ("", None),
        (None, None),
    ],
)
def test_the_preferred_language_gives_the_language(preferred: str | None, language: str | None) -> None:
    assert language_of(preferred) == language
