"""A plain `baerekraft-bot run` is started without Typer (bot/entry/cli/__init__.py): as a process,
it refuses and fails as the Typer command does, and its help is still Typer's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LOADED = (
    "import atexit, sys\n"
    "watched = ('typer', 'pydantic', 'pygments', 'sqlalchemy.dialects.postgresql')\n"
    "loaded = lambda: sorted(m for m in watched if sys.modules.get(m) is not None)\n"
    "atexit.register(lambda: print('loaded:', loaded(), file=sys.stderr))\n"
    "sys.argv = ['baerekraft-bot', *sys.argv[1:]]\n"
    "from bot.entry.cli import main\n"
    "main()\n"
)


def bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`baerekraft-bot ARGS` as a process, in `tmp_path` (no `.env`), without chat credentials."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_"))}
    environ.pop("SECRET_KEY", None)
    environ.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", **env})
    return subprocess.run(
        [sys.executable, "-c", LOADED, *args],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_plain_run_refuses_a_service_without_secret_key_without_typer(tmp_path: Path) -> None:
    done = bot(tmp_path, "run", "--no-console")
    assert done.returncode == 2
    assert "SECRET_KEY is not set" in " ".join(done.stderr.split())
    assert "loaded: []" in done.stderr  # nor PostgreSQL's dialect on SQLite
    assert not (tmp_path / "bot.db").exists()


def test_an_error_at_start_up_ends_as_typer_shows_it(tmp_path: Path) -> None:
    (tmp_path / "folder.db").mkdir()  # SQLite cannot open a folder as its database
    folder = f"sqlite:///{tmp_path / 'folder.db'}"
    done = bot(tmp_path, "run", "--no-console", SECRET_KEY="x" * 32, DATABASE_URL=folder)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "OperationalError" in done.stderr
    assert "╭" in done.stderr  # Typer's frame around it


def test_run_with_anything_more_goes_through_typer(tmp_path: Path) -> None:
    done = bot(tmp_path, "run", "--help")
    assert done.returncode == 0
    assert "--console" in done.stdout and "--no-console" in done.stdout
    assert "'typer'" in done.stderr
