"""Operator actions on the outbox: offsets per series, preview, send now, list and retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.clock import ManualClock
from bot.delivery.operations import list_deliveries, preview, retry, send_now, set_offsets
from bot.entry.cli import app as cli
from bot.entry.cli.common import operator
from bot.entry.composition import App
from bot.models import AuditEvent, Delivery, Series
from bot.services.context import Ctx
from bot.services.errors import UserError
from tests.conftest import ORGANISER, person
from tests.delivery.helpers import simulate
from tests.fakes.recording_sender import RecordingSender

Say = Callable[..., str]


def _ctx(app: App, s: object) -> Ctx:
    return Ctx(s, operator(), app.clock.now(), app.config)  # type: ignore[arg-type]


def test_offsets_are_validated_stored_and_used(app: App, clock: ManualClock, say: Say) -> None:
    with app.db.transaction() as s:
        series = s.scalars(select(Series)).one()
        changed = set_offsets(_ctx(app, s), series, "3d", "2h, 1d ,2h", None)
    assert changed == {"invitation_offset": "3d", "reminder_offsets": "1d,2h"}
    with app.db.transaction() as s, pytest.raises(UserError) as refused:
        set_offsets(_ctx(app, s), s.scalars(select(Series)).one(), None, "1 week", None)
    assert (refused.value.key, refused.value.data) == ("bad_duration_text", {"text": "1 week"})
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    say(person("a@x.no"), "meld på")
    say(ORGANISER, "ny økt 2026-03-20 09:00 Nye tider")
    simulate(app, clock, datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    assert [(x.kind, x.at) for x in sender.to("post")] == [
        ("invitation", datetime(2026, 3, 17, 8, 0, tzinfo=UTC)),
        ("reminder", datetime(2026, 3, 19, 8, 0, tzinfo=UTC)),
        ("reminder", datetime(2026, 3, 20, 6, 0, tzinfo=UTC)),
    ]
    with app.db.read() as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "series.offsets_set")).one()


def test_preview_sends_nothing_and_send_now_sends_once(app: App, clock: ManualClock, say: Say) -> None:
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    say(person("a@x.no"), "meld på")
    say(person("b@x.no", language="en"), "meld på")
    say(ORGANISER, "ny økt 2026-04-20 09:00 For hånd")
    with app.db.transaction() as s:
        shown = preview(_ctx(app, s), app.delivery.planner, 1, "reminder")
    assert shown.blocked is None and shown.unreached == []
    assert shown.sends == [
        ("fake", "post", "nb", None),
        ("fake", "person:1", "nb", 1),
        ("fake", "person:2", "en", 2),
    ]
    with app.db.read() as s:
        assert s.scalars(select(Delivery)).all() == []
    with app.db.transaction() as s:
        ids = send_now(_ctx(app, s), app.delivery.planner, 1, "reminder")
    assert len(ids) == 3
    app.delivery.workers["fake"].drain()
    assert sorted((x.target, x.language) for x in sender.sent) == [
        ("person:1", "nb"),
        ("person:2", "en"),
        ("post", "nb"),
    ]


def test_failed_deliveries_are_listed_and_retried(app: App, clock: ManualClock, say: Say) -> None:
    say(person("a@x.no"), "meld på")
    say(ORGANISER, "ny økt 2026-04-20 09:00 Feiler")
    sender = RecordingSender(clock)
    app.delivery.add_sender(sender)
    with app.db.transaction() as s:
        ids = send_now(_ctx(app, s), app.delivery.planner, 1, "reminder")
    for delivery_id in ids:
        app.delivery.outbox.failed(delivery_id, clock.now(), "HTTP 403: missing scope chat:write")
    with app.db.transaction() as s:
        rows = list_deliveries(_ctx(app, s), 1, "failed", 50)
        assert {r.last_error for r in rows} == {"HTTP 403: missing scope chat:write"}
        assert retry(_ctx(app, s), [], all_failed=True) == 2
    app.delivery.workers["fake"].drain()
    assert len(sender.sent) == 2
    with app.db.transaction() as s, pytest.raises(UserError):
        list_deliveries(_ctx(app, s), None, "lost", 10)


def test_cli_send_dry_run_and_series_set(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SECRET_KEY", "cli-test-secret-key-123")
    runner = CliRunner()
    done = runner.invoke(cli, ["series", "set", "baerekraftsfredag", "--reminders", "1d,15m"])
    assert done.exit_code == 0, done.output
    assert "reminder_offsets: 1d,15m" in done.output
    shown = runner.invoke(cli, ["series", "show", "baerekraftsfredag"])
    assert "reminders: 1d,15m before" in shown.output
    bad = runner.invoke(cli, ["series", "set", "baerekraftsfredag", "--invitation", "soon"])
    assert bad.exit_code == 1
    added = runner.invoke(cli, ["sessions", "add", "--title", "CLI", "--start", "2030-01-04 09:00"])
    assert added.exit_code == 0, added.output
    dry = runner.invoke(cli, ["send", added.output.strip(), "reminder", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would be sent. Nothing was sent." in dry.output
    listed = runner.invoke(cli, ["deliveries", "list", "--json"])
    assert listed.output.strip() == "[]"


def test_cli_send_returns_when_a_channel_cannot_deliver_and_says_what_is_left(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manual send gives up waiting once nothing has moved for --wait seconds: the rows stay in the
    outbox for the running bot, and the command says how many and why."""
    from tests.slack.fakes.slack_api import BOT_TOKEN, Fault, running_fake

    with running_fake() as slack:
        slack.fail("chat.postMessage", Fault(status=503), times=1000)
        for name, value in {
            "DATABASE_URL": db_url,
            "SECRET_KEY": "cli-test-secret-key-123",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "signing-secret",
            "SLACK_CHANNEL_ID": "C0ANNOUNCE",
            "SLACK_API_URL": slack.url,
        }.items():
            monkeypatch.setenv(name, value)
        runner = CliRunner()
        added = runner.invoke(cli, ["sessions", "add", "--title", "Nede", "--start", "2030-01-04 09:00"])
        assert added.exit_code == 0, added.output
        sent = runner.invoke(cli, ["send", added.output.strip(), "invitation", "--wait", "1"])
    assert sent.exit_code == 1, sent.output
    assert "1 still pending" in sent.output and "Slack HTTP 503" in sent.output
    assert slack.calls("chat.postMessage")  # it was tried


def test_preview_says_plainly_why_nothing_would_go_out(app: App, clock: ManualClock, say: Say) -> None:
    from bot.commands import SessionFields
    from bot.services.series import resolve_series
    from bot.services.sessions import add_session

    app.delivery.add_sender(RecordingSender(clock, posts=False))
    say(person("a@x.no"), "meld på")
    with app.db.transaction() as s:
        ctx = _ctx(app, s)
        fields = SessionFields(title="Utkast", start_local=datetime(2026, 4, 3, 9, 0))
        draft = add_session(ctx, resolve_series(ctx, None), fields, draft=True).id
    assert "lagt inn" in say(ORGANISER, "ny økt 2026-03-04 10:30 Nå")  # 09:30Z: began half an hour ago
    with app.db.transaction() as s:
        shown = preview(_ctx(app, s), app.delivery.planner, draft, "invitation")
        assert shown.blocked is not None and "draft" in shown.blocked and "--title" in shown.blocked
        started = preview(_ctx(app, s), app.delivery.planner, draft + 1, "reminder")
        assert started.blocked == f"session {draft + 1} has started: no reminder goes out any more"
        followup = preview(_ctx(app, s), app.delivery.planner, draft + 1, "followup")
        assert followup.blocked is None and len(followup.sends) == 1
