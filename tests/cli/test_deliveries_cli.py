"""`deliveries plan` and `send --dry-run` through the command line: the schedule ahead as JSON across
both daylight-saving changes, and a dry run that shows the text and says plainly what stops it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.entry.cli import app as cli
from bot.entry.composition import build
from bot.entry.settings import BotSettings
from bot.parser import parse
from tests.conftest import person

KEYS = {"session", "kind", "offset", "due_utc", "due_local", "channels", "recipients"}


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": db_url, "SECRET_KEY": "cli-test-secret-key-123", "LOG_LEVEL": "WARNING"}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env)

    return invoke


def _add(run: object, start: str, title: str = "Økt") -> str:
    added = run("sessions", "add", "--title", title, "--start", start)  # type: ignore[operator]
    assert added.exit_code == 0, added.output
    return str(added.output.strip())


def test_plan_json_keeps_each_offset_on_the_local_wall_clock_across_both_dst_changes(run: object) -> None:
    spring = _add(run, "2027-03-29 09:00")  # summer time begins Sunday 28 March 2027
    autumn = _add(run, "2027-11-01 09:00")  # winter time begins Sunday 31 October 2027
    for session, expected in (
        (
            spring,
            [
                ("invitation", "7d", "2027-03-22T08:00:00+00:00", "2027-03-22T09:00:00+01:00"),
                ("reminder", "1d", "2027-03-28T07:00:00+00:00", "2027-03-28T09:00:00+02:00"),
                ("reminder", "1h", "2027-03-29T06:00:00+00:00", "2027-03-29T08:00:00+02:00"),
            ],
        ),
        (
            autumn,
            [
                ("invitation", "7d", "2027-10-25T07:00:00+00:00", "2027-10-25T09:00:00+02:00"),
                ("reminder", "1d", "2027-10-31T08:00:00+00:00", "2027-10-31T09:00:00+01:00"),
                ("reminder", "1h", "2027-11-01T07:00:00+00:00", "2027-11-01T08:00:00+01:00"),
            ],
        ),
    ):
        shown = run("deliveries", "plan", "--session", session, "--json")  # type: ignore[operator]
        assert shown.exit_code == 0, shown.output
        rows = json.loads(shown.output)
        assert all(set(row) == KEYS for row in rows)
        assert all(row["session"] == int(session) and row["channels"] == ["console"] for row in rows)
        assert all(row["recipients"] == 1 for row in rows)  # the console's one post
        got = [(r["kind"], r["offset"], r["due_utc"], r["due_local"]) for r in rows]
        assert got == expected
    everything = run("deliveries", "plan", "--json")  # type: ignore[operator]
    assert len(json.loads(everything.output)) == 6
    table = run("deliveries", "plan")  # type: ignore[operator]
    assert "6 messages still to go out." in table.output
    unknown = run("deliveries", "plan", "--session", "999")  # type: ignore[operator]
    assert unknown.exit_code == 1 and "999" in unknown.output


def test_dry_run_shows_the_text_and_says_plainly_what_stops_it(
    run: object, settings: BotSettings, tmp_path: Path
) -> None:
    session = _add(run, "2027-04-02 09:00", "Sirkulær økonomi")
    bot = build(settings, migrate=False)
    try:
        bot.dispatcher.execute(person("kari@kommune.no"), parse("meld på"))  # sees the console's posts
    finally:
        bot.close()
    imported = tmp_path / "list.csv"
    imported.write_text("email,name,language\nola@kommune.no,Ola,nb\n")  # no mail set up: unreached
    assert run("subscribers", "import", str(imported)).exit_code == 0  # type: ignore[operator]
    dry = run("send", session, "reminder", "--dry-run")  # type: ignore[operator]
    assert dry.exit_code == 0, dry.output
    assert "── console, nb ──" in dry.output
    assert "Sirkulær økonomi" in dry.output  # the rendered text, not only who gets it
    assert "1 subscriber of Bærekraftsfredag no configured channel reaches: they get nothing" in " ".join(
        dry.output.split()
    )
    assert "1 message would be sent. Nothing was sent." in dry.output
    assert run("sessions", "cancel", session).exit_code == 0  # type: ignore[operator]
    cancelled = run("send", session, "reminder", "--dry-run")  # type: ignore[operator]
    assert f"No message would be sent: session {session} is cancelled. Nothing was sent." in cancelled.output
    assert "1 message would be sent" not in cancelled.output
    refused = run("send", session, "reminder")  # type: ignore[operator]
    assert refused.exit_code == 1
    assert f"Nothing was sent: session {session} is cancelled." in refused.output
    listed = run("deliveries", "list", "--json")  # type: ignore[operator]
    assert json.loads(listed.output) == []


def test_list_help_points_to_the_plan_for_future_messages(run: object) -> None:
    shown = run("deliveries", "list", "--help")  # type: ignore[operator]
    assert "deliveries plan" in shown.output
