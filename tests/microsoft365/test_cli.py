"""`baerekraft-bot teams login | status | logout` in-process, against the HTTPS fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.entry.cli import app as cli
from tests.microsoft365.fakes.graph_api import CHANNEL_ID, ORGANISER, TEAM_ID
from tests.microsoft365.fakes.identity_provider import CLIENT_ID, CLIENT_SECRET, TENANT
from tests.microsoft365.support import BOT_ID, Fakes, running_fakes


@pytest.fixture
def fakes(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Fakes]:
    monkeypatch.chdir(tmp_path)
    with running_fakes(monkeypatch) as running:
        for name, value in {
            "DATABASE_URL": db_url,
            "SECRET_KEY": "graph-cli-test-secret-key",
            "MS_TENANT_ID": TENANT,
            "MS_CLIENT_ID": CLIENT_ID,
            "MS_CLIENT_SECRET": CLIENT_SECRET,
            "MS_ORGANISER": ORGANISER,
            "MS_AUTHORITY_HOST": running.idp.url,
            "GRAPH_API_URL": running.graph.base,
            "TEAMS_TEAM_ID": TEAM_ID,
            "TEAMS_CHANNEL_ID": CHANNEL_ID,
        }.items():
            monkeypatch.setenv(name, value)
        yield running


def test_login_status_and_logout(fakes: Fakes) -> None:
    runner = CliRunner()
    before = runner.invoke(cli, ["teams", "status"])
    assert before.exit_code == 1
    assert "app-only token: ok" in before.output and "Teams login: none" in before.output
    fakes.idp.auto_approve = BOT_ID
    login = runner.invoke(cli, ["teams", "login"])
    assert login.exit_code == 0, login.output
    assert "enter" in login.output and "Logged in as baerekraft-bot@ks.example" in login.output
    status = runner.invoke(cli, ["teams", "status"])
    assert status.exit_code == 0, status.output
    assert "Teams login token: ok" in status.output and status.output.rstrip().endswith("state: on")
    assert "PUBLIC_BASE_URL not set: polling only" in status.output
    fakes.idp.revoke(BOT_ID)
    revoked = runner.invoke(cli, ["teams", "status"])
    assert revoked.exit_code == 1 and "PROBLEM" in revoked.output and "teams login" in revoked.output
    assert runner.invoke(cli, ["teams", "logout"]).output.strip() == "Teams login forgotten."


def test_login_needs_a_secret_key(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY")
    result = CliRunner().invoke(cli, ["teams", "login"])
    assert result.exit_code == 1 and "SECRET_KEY is not set" in result.output


def test_without_microsoft_settings_the_command_says_what_is_missing(
    fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MS_CLIENT_SECRET")
    result = CliRunner().invoke(cli, ["teams", "status"])
    assert result.exit_code == 1 and "MS_CLIENT_SECRET" in result.output
