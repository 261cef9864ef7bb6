"""Dates and ids out of range get a clear answer wherever they come in, and change nothing: in chat,
and at the services that the Slack and Teams forms and the command line reach (on every test backend:
PostgreSQL's `integer` ends at 2^31-1, Python's dates at year 9999)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import func, select

from bot.bounds import MAX_ID
from bot.commands import SessionFields
from bot.entry.composition import App
from bot.models import AuditEvent, Session
from bot.services.context import Ctx
from bot.services.errors import UserError
from bot.services.links import add_link, remove_link
from bot.services.series import resolve_series
from bot.services.sessions import add_session, cancel_session, change_session, get_session
from tests.conftest import ORGANISER

WINDOW_NB = "mellom 1.1.2000 og 31.12.2100"


def nothing_stored(app: App) -> None:
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Session)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


@pytest.mark.parametrize(
    "line",
    [
        "ny økt 9999-12-31 23:59 X",
        "ny økt 0001-01-01 00:00 X",
        "ny økt 31.12.1999 23:59 X",
        "ny økt 2101-01-01 09:00 X",
        "ny økt 2026-03-06 09:00 X; start=9999-12-31 23:59",
    ],
)
def test_a_session_outside_the_window_is_refused_in_chat(
    app: App, say: Callable[..., str], line: str
) -> None:
    reply = say(ORGANISER, line)
    assert WINDOW_NB in reply, reply
    nothing_stored(app)


def test_the_window_is_explained_in_english(say: Callable[..., str]) -> None:
    reply = say(replace(ORGANISER, language="en"), "new session 9999-12-31 23:59 X")
    assert "between 1 January 2000 and 31 December 2100" in reply


def test_the_last_day_of_the_window_is_accepted(app: App, say: Callable[..., str]) -> None:
    assert "Økten er lagt inn (nummer 1)" in say(ORGANISER, "ny økt 2100-12-31 23:59 Siste")
    assert "Økt 1 er endret" in say(ORGANISER, "endre økt 1 start=2100-12-31 22:00")


@pytest.mark.parametrize("start", [datetime(9999, 12, 31, 23, 59), datetime(1, 1, 1), datetime(1999, 12, 31)])
def test_the_services_refuse_a_start_outside_the_window(app: App, start: datetime) -> None:
    """What a Slack date picker, a Teams card or `sessions add --start` may send."""
    with app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, app.clock.now(), app.config)
        series = resolve_series(ctx, "baerekraftsfredag")
        with pytest.raises(UserError) as refused:
            add_session(ctx, series, SessionFields(title="X", start_local=start))
        assert refused.value.key == "date_out_of_range"
        session = add_session(ctx, series, SessionFields(title="Y", start_local=datetime(2030, 1, 4, 9)))
        with pytest.raises(UserError) as refused:
            change_session(ctx, session.id, SessionFields(start_local=start))
        assert refused.value.key == "date_out_of_range"


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("avlys økt 2147483648", "Nummeret er ugyldig"),
        ("endre økt 99999999999999999999 tittel=X", "Nummeret er ugyldig"),
        ("ny lenke 2147483648 https://x.no/a.pdf Lysark", "Nummeret er ugyldig"),
        ("fjern lenke 9223372036854775808", "Nummeret er ugyldig"),
        ("avlys økt 2147483647", "ingen økt med nummer 2147483647"),
    ],
)
def test_an_id_out_of_range_is_refused_in_chat(
    app: App, say: Callable[..., str], line: str, answer: str
) -> None:
    reply = say(ORGANISER, line)
    assert answer in reply, reply
    nothing_stored(app)


@pytest.mark.parametrize("bad_id", [0, -1, MAX_ID + 1, 2**63, 2**64])
def test_the_services_treat_an_id_out_of_range_as_unknown(app: App, bad_id: int) -> None:
    """The ids of a Slack button, a modal's metadata or the command line: never a database error."""
    with app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, app.clock.now(), app.config)
        for call, key in [
            (lambda: get_session(ctx, bad_id), "unknown_session"),
            (lambda: cancel_session(ctx, bad_id), "unknown_session"),
            (lambda: change_session(ctx, bad_id, SessionFields(title="X")), "unknown_session"),
            (lambda: add_link(ctx, bad_id, "https://x.no/a.pdf", "Lysark", None), "unknown_session"),
            (lambda: remove_link(ctx, bad_id), "unknown_link"),
        ]:
            with pytest.raises(UserError) as refused:
                call()
            assert refused.value.key == key
