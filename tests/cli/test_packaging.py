"""The bot as an operator installs it: a wheel built from this tree, installed into a fresh virtual
environment (not the editable install the tests run from), answers on the console, with every
template, static file, manifest and migration it needs shipped inside."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel and starts real processes

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("bot", "handlers", "jobs", "templates")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def files_beside_the_code() -> set[str]:
    """Every file of the packages that is not Python, as the wheel names it."""
    found = set()
    for top in SHIPPED:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
                found.add(path.relative_to(ROOT).as_posix())
    return found


def dockerfile_sources() -> list[str]:
    """What the Dockerfile's build stage copies into the image to build the wheel from."""
    build_stage = (ROOT / "Dockerfile").read_text(encoding="utf-8").split("\nFROM ")[1]
    copied: list[str] = []
    for line in build_stage.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied += line.split()[1:-1]
    return copied


def test_the_image_is_built_from_the_files_the_wheel_needs() -> None:
    assert sorted(dockerfile_sources()) == sorted(("pyproject.toml", "README.md", *SHIPPED))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built as the Dockerfile builds it, from a copy of exactly the files it copies: setuptools
    leaves build/ beside the sources, and an old build/ would slip stale modules into the wheel."""
    source = tmp_path_factory.mktemp("source")
    for name in dockerfile_sources():
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    pip_wheel = ("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q")
    run(sys.executable, *pip_wheel, "-w", out, source, cwd=source)
    [built] = out.glob("baerekraft_bot-*.whl")
    return built


def test_the_wheel_holds_every_file_the_bot_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = files_beside_the_code()
    assert {"templates/nb/replies/help.txt", "handlers/slack/manifest.yml"} <= expected  # the scan works
    assert expected - names == set()
    assert "bot/migrations/versions/0010_one_inbox.py" in names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    modules = {name for name in names if name.endswith(".py")}
    assert modules == {
        path.relative_to(ROOT).as_posix() for top in SHIPPED for path in (ROOT / top).rglob("*.py")
    }


def test_installed_into_a_fresh_environment_it_answers_on_the_console(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    fresh_site = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip()
    )
    # The dependencies come from the test environment (no index here); the bot itself only from the wheel.
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        wheel,
        cwd=tmp_path,
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_", "PYTHON"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'bot.db'}"
    where = run(
        python,
        "-c",
        "import bot, templates; print(bot.__file__); print(templates.ROOT)",
        cwd=tmp_path,
        env=env,
    )
    assert all(line.startswith(str(venv)) for line in where.split()), where
    answer = run(
        venv / "bin" / "baerekraft-bot",
        "shell",
        "--as",
        "a@example.no",
        cwd=tmp_path,
        env=env,
        stdin="hjelp\nmeld på\n",
    )
    assert "Dette kan du skrive til meg" in answer
    assert "Du er nå påmeldt Bærekraftsfredag" in answer
