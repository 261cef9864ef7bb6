"""Dates and ids out of range at the command line: a clear message and a non-zero exit, never a
traceback or a database error, and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from bot.entry.cli import app as cli
from bot.entry.composition import App
from bot.models import Session


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    monkeypatch.chdir(tmp_path)
    return {"DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key-0123456789", "LOG_LEVEL": "WARNING"}


def invoke(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def clean_exit(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    "start", ["9999-12-31 23:59", "0001-01-01 00:00", "1999-12-31 09:00", "2101-01-01 09:00"]
)
def test_sessions_add_refuses_a_start_outside_the_window(
    app: App, env: dict[str, str | None], start: str
) -> None:
    output = clean_exit(invoke(env, "sessions", "add", "--title", "X", "--start", start), 1)
    assert "mellom 1.1.2000 og 31.12.2100" in output
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Session)) == 0


@pytest.mark.parametrize(
    "args",
    [
        ("sessions", "cancel", "2147483648"),
        ("sessions", "cancel", "0"),
        ("links", "add", "99999999999999999999", "--title", "T", "--url", "https://x.no/a"),
        ("sessions", "add", "--title", "X", "--start", "2030-01-04 09:00", "--duration", "99999999999"),
        ("send", "2147483648", "invitation", "--dry-run"),
        ("deliveries", "list", "--session", "9223372036854775808"),
        ("deliveries", "retry", "2147483648"),
    ],
)
def test_an_id_or_number_out_of_range_is_a_usage_error(
    env: dict[str, str | None], args: tuple[str, ...]
) -> None:
    output = clean_exit(invoke(env, *args), 2)
    assert "Invalid value" in output


def test_the_largest_id_is_just_unknown(env: dict[str, str | None]) -> None:
    output = clean_exit(invoke(env, "sessions", "cancel", "2147483647"), 1)
    assert "ingen økt med nummer 2147483647" in output
