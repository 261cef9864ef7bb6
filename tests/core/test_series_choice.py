"""With several series, a command without a slug asks which one; with a slug it acts on that one."""

from __future__ import annotations

from collections.abc import Callable

from bot.entry.cli.common import operator
from bot.entry.composition import App
from bot.services.context import Ctx
from bot.services.series import create_series
from tests.conftest import person

ANNE = person("anne@region.dk", language="en")


def _add_danish_series(app: App) -> None:
    with app.db.transaction() as s:
        create_series(
            Ctx(s, operator(), app.clock.now(), app.config),
            "verdensmaal",
            "Verdensmålsnetværk for regioner og kommuner",
            "en",
            "Europe/Copenhagen",
        )


def test_one_series_needs_no_slug(say: Callable[..., str]) -> None:
    assert "subscribed to Bærekraftsfredag" in say(ANNE, "subscribe")


def test_several_series_without_slug_asks_which(app: App, say: Callable[..., str]) -> None:
    _add_danish_series(app)
    reply = say(ANNE, "tilmeld")
    assert "Which series do you mean?" in reply
    assert "baerekraftsfredag – Bærekraftsfredag" in reply
    assert "verdensmaal – Verdensmålsnetværk" in reply


def test_slug_selects_the_series(app: App, say: Callable[..., str]) -> None:
    _add_danish_series(app)
    assert "subscribed to Verdensmålsnetværk" in say(ANNE, "tilmeld verdensmaal")
    assert "You are not subscribed to Bærekraftsfredag" in say(ANNE, "status baerekraftsfredag")


def test_unknown_slug_lists_the_series(say: Callable[..., str]) -> None:
    reply = say(ANNE, "subscribe nope")
    assert "I know no series called “nope”" in reply
    assert "baerekraftsfredag" in reply
