"""The files an operator deploys with: the container image, the compose file with PostgreSQL, and the
systemd unit. Read as Docker, Compose and systemd read them; the image's health check is run against
a real bot (no Docker daemon is needed for these tests)."""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import shutil
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
from bot.entry.worker_process import STOP_TIMEOUT
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


def test_the_service_manager_waits_longer_than_the_front_waits_for_its_worker() -> None:
    """On SIGTERM the front gives the worker process up to STOP_TIMEOUT, then records the requests the
    worker never confirmed: a SIGKILL from systemd or Compose before that would lose them. The margin
    covers what the front stops before (the web server, the handover) and after (its own writes)."""
    least = STOP_TIMEOUT + 15
    assert _seconds(unit_service()["TimeoutStopSec"][-1]) >= least
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert _seconds(compose["services"]["bot"]["stop_grace_period"]) >= least


def _seconds(duration: str) -> float:
    """`60`, `60s`, `1min`, `1m30s` (systemd's and Compose's spellings of the few a stop uses)."""
    parts = re.fullmatch(r"(?:(\d+)\s*(?:min|m))?\s*(?:(\d+)\s*s?)?", duration.strip())
    assert parts is not None and any(parts.groups()), duration
    minutes, seconds = (int(part or 0) for part in parts.groups())
    return 60 * minutes + seconds


def unit_service() -> dict[str, list[str]]:
    """The unit's [Service] settings, each with every value it is given (systemd allows repeats)."""
    found: dict[str, list[str]] = {}
    section = None
    for line in (ROOT / "deploy" / "baerekraft-bot.service").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_sandboxes_the_service_and_lets_it_write_where_it_writes() -> None:
    service = unit_service()
    assert service["NoNewPrivileges"] == ["yes"] and service["ProtectSystem"] == ["strict"]
    writable = service["ReadWritePaths"][0].split()
    # Everything it writes: its working folder (a SQLite file), the inbox spool, and under a strict
    # read-only system a private /tmp (the worker and the front share their metrics there).
    spool = next(v.split("=", 1)[1] for v in service["Environment"] if v.startswith("INBOX_SPOOL_DIR="))
    for path in (service["WorkingDirectory"][0], spool):
        assert any(path == w or path.startswith(w.rstrip("/") + "/") for w in writable), path
    assert service["PrivateTmp"] == ["yes"]
    assert service["CapabilityBoundingSet"] == [""]  # no capability at all
    # The worker lowers its own priority: the syscall filter must leave setpriority allowed.
    assert "@system-service" in service["SystemCallFilter"]
    assert not any("@resources" in f and f.startswith("~") for f in service["SystemCallFilter"])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_reads_the_unit_without_a_complaint_and_rates_it_sandboxed(tmp_path: Path) -> None:
    unit = ROOT / "deploy" / "baerekraft-bot.service"
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [
        line
        for line in (verify.stdout + verify.stderr).splitlines()
        if line.strip() and "is not executable" not in line  # /opt/baerekraft is not installed here
    ]
    assert complaints == []
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    if match is None:
        pytest.skip(f"this systemd-analyze cannot rate a unit file offline: {security.stderr[:200]}")
    assert float(match.group(1)) <= 2.0  # systemd calls up to 3.9 "OK"; the bare unit was 7.9


def test_every_variable_compose_needs_is_in_the_env_example() -> None:
    compose = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    needed = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", compose))
    assert "POSTGRES_PASSWORD" in needed
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert needed - documented == set()


def test_the_db_is_healthy_only_when_postgresql_answers() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    check = compose["services"]["db"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(check)
    # The bot's own health check is the image's HEALTHCHECK, unless compose replaces it with one
    # that still asks /healthz.
    bot_check = compose["services"]["bot"].get("healthcheck")
    assert bot_check is None or "/healthz" in " ".join(bot_check["test"])


def dockerignored() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/")) or path.startswith(p + "/")
        for p in patterns
    )


def test_the_build_context_leaves_secrets_and_local_state_out_but_not_what_the_image_copies() -> None:
    patterns = dockerignored()
    for private in (".env", ".git", ".venv", ".baerekraft-secret-key", "baerekraft.db", "spool", "tests"):
        assert ignored(private, patterns), private
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = [
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for source in line.split()[1:-1]
    ]
    assert copied and not [source for source in copied if ignored(source, patterns)]


def test_the_bot_container_can_write_only_its_volume_and_tmp() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    bot = compose["services"]["bot"]
    assert bot["read_only"] is True and "/tmp" in bot["tmpfs"]
    assert bot["cap_drop"] == ["ALL"] and "no-new-privileges:true" in bot["security_opt"]
    stage = dict(final_stage())
    spool = next(
        part.split("=", 1)[1] for part in stage["ENV"].split() if part.startswith("INBOX_SPOOL_DIR=")
    )
    [volume] = [v.split(":", 1)[1] for v in bot["volumes"]]
    assert spool.startswith(volume.rstrip("/") + "/")
