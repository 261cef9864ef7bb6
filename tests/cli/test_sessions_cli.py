"""`sessions edit|show|list` and `series edit` through the command line: the CLI can edit, through the
same service as `endre økt`, and its errors name the flag that would help."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from bot.entry.cli import app as cli
from bot.entry.composition import build
from bot.entry.settings import BotSettings
from bot.models import AuditEvent, Series
from handlers.console.sender import ConsoleSender

Run = Callable[..., Result]


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": db_url,
        "SECRET_KEY": "cli-test-secret-key-123",
        "LOG_LEVEL": "WARNING",
        "COLUMNS": "200",  # tables unwrapped
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env)

    return invoke


def flat(text: str) -> str:
    return " ".join(text.split())


def test_sessions_edit_moves_a_session_and_its_messages_follow(run: Run) -> None:
    added = run("sessions", "add", "--title", "Sirkulær økonomi", "--start", "2027-06-04 09:00")
    sid = added.output.strip()
    moved = run("sessions", "edit", sid, "--start", "2027-06-11 10:30", "--topic", "SDG 12")
    assert moved.exit_code == 0, moved.output
    assert f"Session {sid} changed: start, topic." in moved.output
    assert "start (local): 2027-06-11 10:30 Europe/Oslo" in moved.output
    assert "start (UTC): 2027-06-11 08:30" in moved.output
    shown = json.loads(run("sessions", "show", sid, "--json").output)
    assert (shown["start_utc"], shown["topic"]) == ("2027-06-11T08:30:00+00:00", "SDG 12")
    reminder = next(u for u in shown["ahead"] if u["offset"] == "1d")
    assert reminder["due_local"] == "2027-06-10T10:30:00+02:00"  # the plan follows the move
    same = run("sessions", "edit", sid, "--topic", "SDG 12")
    assert same.exit_code == 0 and f"Session {sid}: nothing changed." in same.output
    text = run("sessions", "show", sid)
    assert "title: Sirkulær økonomi" in text.output and "still to go out: 3" in text.output
    listed = run("sessions", "list")
    assert "2027-06-11 10:30 CEST" in listed.output and "2027-06-11 08:30" in listed.output


def test_edit_errors_are_clear_and_name_the_flag(run: Run) -> None:
    sid = run("sessions", "add", "--title", "X", "--start", "2027-06-04 09:00").output.strip()
    nothing = run("sessions", "edit", sid)
    assert nothing.exit_code == 2 and "--title" in flat(nothing.output)
    past = run("sessions", "edit", sid, "--start", "2001-01-05 09:00")
    assert past.exit_code == 1 and "later --start" in flat(past.output)
    assert "Traceback" not in past.output
    bad_time = run("sessions", "edit", sid, "--start", "fredag")
    assert bad_time.exit_code == 1 and "YYYY-MM-DD HH:MM" in flat(bad_time.output)
    unknown = run("sessions", "edit", "4242", "--title", "Y")
    assert unknown.exit_code == 1 and "4242" in unknown.output
    archive = run("sessions", "add", "--title", "Gammel", "--start", "2025-01-10 09:00")
    assert archive.exit_code == 1 and "--past" in flat(archive.output)
    assert run("sessions", "add", "--title", "Gammel", "--start", "2025-01-10 09:00", "--past").exit_code == 0
    assert run("sessions", "cancel", sid).exit_code == 0
    cancelled = run("sessions", "edit", sid, "--title", "Z")
    assert cancelled.exit_code == 1 and "sessions add" in flat(cancelled.output)


def test_series_edit_changes_name_language_and_zone_audited(run: Run, settings: BotSettings) -> None:
    done = run("series", "edit", "baerekraftsfredag", "--language", "en", "--timezone", "Europe/Copenhagen")
    assert done.exit_code == 0, done.output
    assert "language: en" in done.output and "timezone: Europe/Copenhagen" in done.output
    again = run("series", "edit", "baerekraftsfredag", "--language", "en")
    assert "nothing changed" in again.output
    bad = run("series", "edit", "baerekraftsfredag", "--timezone", "Europe/Bergen")
    assert bad.exit_code == 1 and "Europe/Bergen" in bad.output
    assert run("series", "edit", "baerekraftsfredag", "--language", "sv").exit_code == 1
    assert run("series", "edit", "baerekraftsfredag", "--name", "  ").exit_code == 1
    assert run("series", "edit", "baerekraftsfredag").exit_code == 2
    bot = build(settings, migrate=False)
    try:
        with bot.db.read() as s:
            series = s.scalars(select(Series)).one()
            assert (series.language, series.timezone) == ("en", "Europe/Copenhagen")
            events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "series.changed")))
            languages = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "series.language_set")))
    finally:
        bot.close()
    assert [e.details["changed"] for e in events] == [{"timezone": "Europe/Copenhagen"}]
    assert [e.details["language"] for e in languages] == ["en"]


def test_a_clash_needs_force_and_a_country_can_be_set(run: Run) -> None:
    first = run("sessions", "add", "--title", "Første", "--start", "2027-09-03 09:00").output.strip()
    clash = run("sessions", "add", "--title", "Andre", "--start", "2027-09-03 09:30")
    assert clash.exit_code == 1 and "--force" in flat(clash.output) and f"nummer {first}" in clash.output
    forced = run("sessions", "add", "--title", "Andre", "--start", "2027-09-03 09:30", "--force")
    assert forced.exit_code == 0, forced.output
    second = forced.output.strip()
    onto = run("sessions", "edit", first, "--start", "2027-09-03 09:45")
    assert onto.exit_code == 1 and "--force" in flat(onto.output)
    assert run("sessions", "edit", first, "--start", "2027-09-03 09:45", "--force").exit_code == 0
    assert second != first
    shown = run("series", "show", "baerekraftsfredag")
    assert "country: NO" in shown.output
    assert "country: DK" in run("series", "edit", "baerekraftsfredag", "--country", "dk").output
    bad = run("series", "edit", "baerekraftsfredag", "--country", "Norge")
    assert bad.exit_code == 1 and "Norge" in bad.output
    added = run(
        "series", "add", "--slug", "verdensmaal", "--name", "Verdensmål", "--timezone", "Europe/Copenhagen"
    )
    assert added.exit_code == 0, added.output
    assert "country: DK" in run("series", "show", "verdensmaal").output


def test_moving_an_invited_session_plans_the_change_message(run: Run, settings: BotSettings) -> None:
    soon = datetime.now(ZoneInfo("Europe/Oslo")) + timedelta(days=3)
    sid = run("sessions", "add", "--title", "Snart", "--start", f"{soon:%Y-%m-%d} 09:00").output.strip()
    bot = build(settings, migrate=False)  # the running bot's planner sends the invitation now
    try:
        bot.delivery.add_sender(ConsoleSender(bot.renderer, out=io.StringIO()))
        bot.delivery.planner.run(bot.clock.now())
    finally:
        bot.close()
    moved = run("sessions", "edit", sid, "--start", f"{soon:%Y-%m-%d} 13:00")
    assert moved.exit_code == 0, moved.output
    plan = json.loads(run("deliveries", "plan", "--session", sid, "--json").output)
    # The invitation's rows still wait (nobody sent them), and the change is due now, as for endre økt.
    assert sorted(row["kind"] for row in plan if row["kind"] != "reminder") == ["change", "invitation"]
    reminders = [row for row in plan if row["kind"] == "reminder"]
    assert [row["due_local"][11:16] for row in reminders] == ["13:00", "12:00"]


def test_a_draft_is_shown_as_one_and_titled_from_the_cli(run: Run, settings: BotSettings) -> None:
    from bot.commands import SessionFields
    from bot.entry.cli.common import operator
    from bot.services.context import Ctx
    from bot.services.series import resolve_series
    from bot.services.sessions import add_session

    bot = build(settings, migrate=False)  # as the recurrence job makes one
    try:
        with bot.db.transaction() as s:
            ctx = Ctx(s, operator(), bot.clock.now(), bot.config)
            fields = SessionFields(title="Bærekraftsfredag", start_local=datetime(2027, 10, 1, 9, 0))
            draft = str(add_session(ctx, resolve_series(ctx, None), fields, draft=True).id)
    finally:
        bot.close()
    shown = run("sessions", "show", draft)
    assert "status: draft" in shown.output and "still to go out: 0" in shown.output
    assert f"sessions edit {draft} --title" in shown.output
    plan = run("deliveries", "plan")
    assert "0 messages still to go out." in plan.output and f"--title): {draft}." in flat(plan.output)
    titled = run("sessions", "edit", draft, "--title", "Sirkulær økonomi")
    assert "status: scheduled" in titled.output
    assert len(json.loads(run("deliveries", "plan", "--json").output)) == 3


def test_sessions_show_gives_the_numbers_of_a_session(run: Run) -> None:
    sid = run("sessions", "add", "--title", "Tall", "--start", "2027-06-04 09:00").output.strip()
    text = run("sessions", "show", sid)
    assert "invited: – (no invitation yet)" in text.output and "attended: unknown" in text.output
    numbers = json.loads(run("sessions", "show", sid, "--json").output)["numbers"]
    assert numbers == {
        "session_id": int(sid),
        "invited": None,
        "invited_at": None,
        "reached": 0,
        "channels": [],
        "unsubscribed_since": 0,
        "attended": None,
        "attendance_source": None,
        "attendance_final": False,
    }
    sent = run("send", sid, "invitation")  # now, through the console's post
    assert sent.exit_code == 0, sent.output
    after = run("sessions", "show", sid)
    assert "invited: 0 (invitation " in after.output
    assert "console invitation: 0 reached, 1 posts" in after.output


def test_links_add_takes_a_recording_and_show_lists_it_first(run: Run) -> None:
    sid = run("sessions", "add", "--title", "Opptak", "--start", "2025-01-10 09:00", "--past").output.strip()
    assert run("links", "add", sid, "--title", "Lysark", "--url", "https://ks.no/l.pdf").exit_code == 0
    added = run(
        "links", "add", sid, "--title", "Opptaket", "--url", "https://v.example/o", "--kind", "recording"
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(run("sessions", "show", sid, "--json").output)
    assert [(x["title"], x["kind"]) for x in shown["links"]] == [
        ("Opptaket", "recording"),
        ("Lysark", "slides"),
    ]
    assert "[recording] Opptaket" in run("sessions", "show", sid).output
    wrong = run("links", "add", sid, "--title", "X", "--url", "https://v.example/x", "--kind", "podcast")
    assert wrong.exit_code == 1 and "'podcast' is neither slides nor recording" in wrong.output
