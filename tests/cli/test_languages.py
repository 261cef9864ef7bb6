"""Languages on the command line: `series add/set --language`, `shell --language`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.entry.cli import app as cli

LIST = "nb, en, da, nn"


@pytest.fixture
def runner(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SECRET_KEY", "cli-test-secret-key-123")
    return CliRunner()


def test_a_nynorsk_series_answers_in_nynorsk(runner: CliRunner) -> None:
    added = runner.invoke(
        cli, ["series", "add", "--slug", "fjordkommune", "--name", "Fjordkommune", "--language", "nn"]
    )
    assert added.exit_code == 0, added.output
    shell = runner.invoke(cli, ["shell", "--as", "nils@kommune.no"], input="meld på fjordkommune\n")
    assert shell.exit_code == 0, shell.output
    assert "Du er no påmeld Fjordkommune. Du får invitasjon og påminningar før kvar økt." in shell.output


def test_a_series_in_an_unknown_language_is_refused_with_the_list(runner: CliRunner) -> None:
    done = runner.invoke(cli, ["series", "add", "--slug", "fransk", "--name", "Fransk", "--language", "fr"])
    assert done.exit_code == 1
    assert "«fr»" in done.output and LIST in done.output
    assert "fransk" not in runner.invoke(cli, ["series", "list", "--json"]).output


def test_series_set_language_makes_the_series_danish(runner: CliRunner) -> None:
    done = runner.invoke(cli, ["series", "set", "baerekraftsfredag", "--language", "da"])
    assert done.exit_code == 0, done.output
    assert "language: da" in done.output
    shown = runner.invoke(cli, ["series", "show", "baerekraftsfredag"])
    assert "language: da" in shown.output
    again = runner.invoke(cli, ["series", "set", "baerekraftsfredag", "--language", "da"])
    assert "Nothing to change" in again.output
    shell = runner.invoke(cli, ["shell", "--as", "dorte@kommune.dk"], input="tilmeld\n")
    assert "Du er nu tilmeldt Bærekraftsfredag." in shell.output
    refused = runner.invoke(cli, ["series", "set", "baerekraftsfredag", "--language", "sv"])
    assert refused.exit_code == 1 and LIST in refused.output


def test_shell_takes_danish_and_refuses_french(runner: CliRunner) -> None:
    danish = runner.invoke(cli, ["shell", "--as", "ib@kommune.dk", "--language", "da"], input="hjælp\n")
    assert danish.exit_code == 0, danish.output
    assert "Det kan du skrive til mig:" in danish.output
    french = runner.invoke(cli, ["shell", "--as", "fleur@kommune.fr", "--language", "fr"], input="help\n")
    assert french.exit_code == 1
    assert f"--language: 'fr' is not a language the bot speaks; use one of {LIST}" in french.output
