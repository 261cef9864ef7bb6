"""Hostile addresses at the command line: `organisers add`, `shell --as` and `subscribers import` refuse
them with a message and exit code 1, store nothing, and never print a traceback."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from bot.entry.cli import app as cli
from bot.entry.composition import App
from bot.models import Organiser, Person
from tests.hostile import HOSTILE

# A process cannot be given a NUL in its arguments; everything else can be typed.
TYPEABLE = [text for text in HOSTILE if "\x00" not in text]


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    monkeypatch.chdir(tmp_path)
    return {"DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key-0123456789", "LOG_LEVEL": "WARNING"}


def invoke(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def refused(result: Result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def nobody_stored(app: App) -> None:
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0
        assert s.scalar(select(func.count()).select_from(Organiser)) == 0


@pytest.mark.parametrize("text", TYPEABLE)
def test_organisers_add_refuses_a_hostile_address(app: App, env: dict[str, str | None], text: str) -> None:
    output = refused(invoke(env, "organisers", "add", text))
    assert "er ikke én gyldig e-postadresse" in output
    nobody_stored(app)


@pytest.mark.parametrize("text", ["slack:U1\x07", "slack:" + "U" * 300, "facebook:1"])
def test_organisers_add_refuses_a_bad_platform_id(app: App, env: dict[str, str | None], text: str) -> None:
    output = refused(invoke(env, "organisers", "add", text))
    assert "verken en e-postadresse eller plattform:bruker-id" in output
    assert "\x07" not in output
    nobody_stored(app)


@pytest.mark.parametrize("text", TYPEABLE)
def test_shell_refuses_a_hostile_address(env: dict[str, str | None], text: str) -> None:
    output = refused(invoke(env, "shell", "--as", text))
    assert "is not an e-mail address" in output


def test_subscribers_import_refuses_hostile_rows_nul_included(
    app: App, env: dict[str, str | None], tmp_path: Path
) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([("email", "name", "language"), *((text, "Navn", "nb") for text in HOSTILE)])
    out.write("kari@x.no,Ka\x00ri,nb\n")
    path = tmp_path / "hostile.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    result = invoke(env, "subscribers", "import", str(path), "--skip-invalid")
    output = refused(result)
    assert output.count("rejected: invalid e-mail address") == len(HOSTILE)
    assert f"line {len(HOSTILE) + 2}: rejected: name contains control characters" in output
    nobody_stored(app)
