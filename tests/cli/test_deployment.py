"""The files an operator deploys with: the container image, the compose file with PostgreSQL, and the
systemd unit. Read as Docker, Compose and systemd read them; the image's health check is run against
a real bot (no Docker daemon is needed for these tests)."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.clock import ManualClock
from bot.entry.composition import App, build
from bot.entry.server import create_web_app
from bot.entry.settings import BotSettings
from tests.slack.fakes.slack_bot import serve

ROOT = Path(__file__).resolve().parents[2]


def instructions(stage: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile stage, continuation lines joined, comments left out."""
    joined = stage.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def final_stage() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text(encoding="utf-8").rsplit("\nFROM ", 1)[1])


def test_the_image_runs_the_service_as_an_unprivileged_user_with_a_health_check() -> None:
    stage = final_stage()
    users = [args for word, args in stage if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    [cmd] = [json.loads(args) for word, args in stage if word == "CMD"]
    assert cmd == ["baerekraft-bot", "run", "--no-console"]
    assert any(word == "HEALTHCHECK" and "/healthz" in args for word, args in stage)


def health_check() -> list[str]:
    [check] = [args for word, args in final_stage() if word == "HEALTHCHECK"]
    return list(json.loads(check.split(" CMD ", 1)[1]))


@pytest.fixture
def web(settings: BotSettings, clock: ManualClock) -> Iterator[str]:
    app: App = build(settings, clock=clock, migrate=False)
    try:
        with serve(create_web_app(app)) as base:
            yield base
    finally:
        app.close()


def test_the_health_check_passes_against_a_serving_bot_and_fails_without_one(web: str) -> None:
    command = health_check()
    port = web.rsplit(":", 1)[1]
    assert command[0] == "python"
    env = {**os.environ, "PORT": port}
    ok = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30, check=False)
    assert ok.returncode == 0, ok.stderr
    env["PORT"] = "9"  # nothing listens there
    down = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30, check=False
    )
    assert down.returncode != 0


def test_compose_runs_the_bot_against_its_postgresql() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in services["db"]["volumes"])
    bot = services["bot"]
    url = bot["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
    assert bot["env_file"] == ".env"  # SECRET_KEY and the channels' settings
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    named = {volume.split(":")[0] for service in services.values() for volume in service.get("volumes", [])}
    assert named <= set(compose["volumes"])


def test_the_systemd_unit_restarts_the_service_with_its_environment_file() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "baerekraft-bot.service", encoding="utf-8")
    service = unit["Service"]
    assert service["Restart"] == "always"
    assert service["EnvironmentFile"].startswith("/")
    assert service["ExecStart"].endswith("baerekraft-bot run --no-console")
    assert service["User"] not in ("root", "0")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
