"""One mailbox or a refusal: the core's address validator, and the chat command and the CSV import
that use it (the web forms: tests/web/test_subscribe.py and test_erase.py; the command line:
tests/cli/test_addresses.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from bot.addresses import BadAddress, is_mailbox, mailbox
from bot.commands import GrantOrganiser, Invalid
from bot.entry.composition import App
from bot.models import Identity, Organiser, Person
from bot.parser import parse
from bot.services.context import Ctx
from bot.services.series import resolve_series
from bot.subscriber_csv import RowIssue, import_subscribers
from tests.conftest import ORGANISER
from tests.hostile import HOSTILE

# In chat, whitespace separates words and `;` options: the hostile addresses that stay one word.
HOSTILE_ONE_WORD = [h for h in HOSTILE if not any(ch.isspace() or ch == ";" for ch in h)]


@pytest.mark.parametrize("text", [*HOSTILE, "Kari <kari@x.no>", "a b@x.no", "a@x.no\r\nBcc: v@x.no", ""])
def test_anything_but_one_mailbox_is_refused(text: str) -> None:
    with pytest.raises(BadAddress):
        mailbox(text)
    assert not is_mailbox(text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("kari@kommune.no", "kari@kommune.no"),
        ("  Kari.Nordmann@Kommune.NO ", "kari.nordmann@kommune.no"),
        ("o'brien+webinar@x.no", "o'brien+webinar@x.no"),
        ("ola@bærum.kommune.no", "ola@bærum.kommune.no"),
        ("ola@xn--brum-voa.kommune.no", "ola@bærum.kommune.no"),
        ("a" * 64 + "@x.no", "a" * 64 + "@x.no"),
    ],
)
def test_one_mailbox_is_kept_in_one_form(text: str, kept: str) -> None:
    assert mailbox(text) == kept


# --- the chat command ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE_ONE_WORD)
def test_an_organiser_named_by_a_hostile_address_is_refused(
    app: App, say: Callable[..., str], text: str
) -> None:
    for written in (text, f"email:{text}", f"mailto:{text}"):
        command = parse(f"gi arrangør {written}")
        assert isinstance(command, Invalid), command
        assert command.problem in ("bad_address", "bad_identity")
        reply = say(ORGANISER, f"gi arrangør {written}")
        assert "e-postadresse" in reply, reply
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Organiser)) == 0
        assert set(s.scalars(select(Person.email))) <= {ORGANISER.email}


def test_a_hostile_address_in_english_gets_an_english_answer(say: Callable[..., str]) -> None:
    reply = say(replace(ORGANISER, language="en"), "grant organiser x0,victim@x.no")
    assert "one e-mail address" in reply, reply


def test_a_valid_address_is_granted_in_its_one_form() -> None:
    assert parse("gi arrangør Ola@Bærum.Kommune.no") == GrantOrganiser("ola@bærum.kommune.no")


@pytest.mark.parametrize("text", ["slack:U1\x00", "teams:29:\x07x", "slack:" + "U" * 300])
def test_a_platform_id_with_control_characters_or_too_long_is_refused(text: str) -> None:
    command = parse(f"gi arrangør {text}")
    assert isinstance(command, Invalid)
    assert command.problem == "bad_identity"


# --- the CSV import -----------------------------------------------------------------------------


def test_hostile_addresses_in_a_csv_import_are_rejected_and_nothing_is_stored(app: App) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([("email", "name", "language"), *((text, "Navn", "nb") for text in HOSTILE)])
    with app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, app.clock.now(), app.config)
        report = import_subscribers(ctx, resolve_series(ctx, "baerekraftsfredag"), out.getvalue())
    assert not report.applied
    lines = range(2, len(HOSTILE) + 2)
    assert report.rejected == [RowIssue(line, "invalid e-mail address") for line in lines]
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0
        assert s.scalar(select(func.count()).select_from(Identity)) == 0


def test_a_name_with_control_characters_is_rejected_in_a_csv_import(app: App) -> None:
    with app.db.transaction() as s:
        ctx = Ctx(s, ORGANISER, app.clock.now(), app.config)
        report = import_subscribers(
            ctx, resolve_series(ctx, "baerekraftsfredag"), 'email,name,language\nkari@x.no,"Ka\x00ri",nb\n'
        )
    assert report.rejected == [RowIssue(2, "name contains control characters")]
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0
