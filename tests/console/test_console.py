"""The console channel driven end to end through a pipe, as an operator would: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts real processes

ROOT = Path(__file__).resolve().parents[2]


def bot(args: list[str], stdin: str, db_url: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MS_", "TEAMS_"))}
    environ.update({"DATABASE_URL": db_url, "SECRET_KEY": "console-test-secret-key", "PORT": "0", **env})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=60,
        check=False,
    )


def test_subscriber_session_through_a_pipe(db_url: str, tmp_path: Path) -> None:
    done = bot(
        ["shell", "--as", "kari@kommune.no", "--name", "Kari"],
        "meld på\nstatus\nmeld pa\nmeld av\nstatus\n",
        db_url,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Du er nå påmeldt Bærekraftsfredag" in out
    assert "Du er påmeldt Bærekraftsfredag (siden" in out
    assert "allerede påmeldt" in out
    assert "Du er meldt av Bærekraftsfredag" in out
    assert out.rstrip().endswith("Ingen ny økt er satt opp ennå.")
    assert "Traceback" not in out + done.stderr


def test_organiser_adds_session_and_link_and_others_are_refused(db_url: str, tmp_path: Path) -> None:
    organiser = bot(
        ["shell", "--as", "org@ks.no", "--organiser"],
        "ny økt 2030-03-01 09:00 Klimatilpasning; tema=SDG 13; lenke=https://teams.example/m/1\n"
        "ny lenke 1 https://ks.no/lysark.pdf Klimatilpasning i praksis; foredragsholder=Ola\n"
        "neste\n",
        db_url,
        tmp_path,
    )
    assert organiser.returncode == 0, organiser.stderr
    assert "Økten er lagt inn (nummer 1)" in organiser.stdout
    assert "fredag 1. mars 2030 kl. 09:00–10:00" in organiser.stdout
    assert "Lenken er lagt til økt 1" in organiser.stdout

    other = bot(
        ["shell", "--as", "ola@kommune.no"], "ny økt 2030-04-05 09:00 Nei\navlys økt 1\n", db_url, tmp_path
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.count("Det kan bare arrangører for Bærekraftsfredag gjøre") == 2

    listed = bot(["sessions", "list", "--json"], "", db_url, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert '"title": "Klimatilpasning"' in listed.stdout
    assert '"status": "scheduled"' in listed.stdout
    assert "Nei" not in listed.stdout


def test_english_console_user(db_url: str, tmp_path: Path) -> None:
    done = bot(
        ["shell", "--as", "john@example.org", "--language", "en"], "subscribe\nhelp\n", db_url, tmp_path
    )
    assert "You are now subscribed to Bærekraftsfredag" in done.stdout
    assert "You can write:" in done.stdout
    assert "For organisers:" not in done.stdout  # John organises nothing
    organiser = bot(
        ["shell", "--as", "john@example.org", "--language", "en", "--organiser"], "help\n", db_url, tmp_path
    )
    assert "For organisers:" in organiser.stdout


def test_run_without_credentials_is_console_mode(db_url: str, tmp_path: Path) -> None:
    done = bot(["run"], "hjelp\n", db_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Dette kan du skrive til meg" in done.stdout
    assert "Slack is off: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET not set" in done.stderr
    assert "Microsoft 365 is off" in done.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"BOT_TIMEZONE": "Europe/Atlantis"},
            "BOT_TIMEZONE: 'Europe/Atlantis' is not a known IANA time zone",
        ),
        ({"PORT": "eighty"}, "PORT: 'eighty' is not a port number"),
        ({"PUBLIC_BASE_URL": "ks.no/bot"}, "PUBLIC_BASE_URL: 'ks.no/bot' is not an http(s):// URL"),
    ],
)
def test_malformed_setting_stops_start_up_with_its_name(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    done = bot(["run"], "", f"sqlite:///{tmp_path / 'x.db'}", tmp_path, **env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_bad_email_for_shell_is_a_clear_message(tmp_path: Path) -> None:
    done = bot(["shell", "--as", "not-an-address"], "", f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    assert done.returncode == 1
    assert "--as: 'not-an-address' is not an e-mail address" in done.stderr
