"""SECRET_KEY signs the links in mails: a service refuses to start without one (its links would die at
the next restart, and two processes would disagree); console mode keeps a key of its own in a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.entry.cli import app as cli
from bot.entry.cli.secret_key import KEY_FILE, kept_key


def test_a_service_without_secret_key_refuses_to_start(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    result = CliRunner().invoke(cli, ["run", "--no-console"])
    assert result.exit_code == 2
    assert "SECRET_KEY is not set" in result.output.replace("\n", " ")
    assert not (tmp_path / KEY_FILE).exists()


def test_console_mode_keeps_its_key_across_restarts(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = CliRunner().invoke(cli, ["shell", "--as", "kari@kommune.no"], input="hjelp\n")
    assert first.exit_code == 0, first.output
    key = (tmp_path / KEY_FILE).read_text(encoding="utf-8").strip()
    assert len(key) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode) == 0o600  # only its owner reads it
    assert kept_key(tmp_path / KEY_FILE) == key  # the next start reads the same key


def test_a_key_file_that_is_too_short_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("short\n", encoding="utf-8")
    with pytest.raises(ValueError, match="at least 16"):
        kept_key(path)
