"""The one error policy: an unexpected exception is logged once with where it happened, its type and
stack, no personal data, and marked for /healthz; a guarded block goes on."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.entry.composition import App
from bot.error_policy import ErrorPolicy, HealthBoard, describe, without_personal_data
from tests.conftest import NOW


def failing() -> None:
    raise ValueError("no seat for kari.nordmann@kommune.no in session 12")


def test_an_unexpected_error_is_logged_once_without_addresses(caplog: pytest.LogCaptureFixture) -> None:
    policy = ErrorPolicy(HealthBoard(ManualClock(NOW)))
    with caplog.at_level(logging.ERROR), policy.guard("job sessions.mark_held", session=12):
        failing()
    [record] = [r for r in caplog.records if r.name == "bot.errors"]
    text = record.getMessage()
    assert text.startswith("job sessions.mark_held failed (session=12): ValueError: no seat for <address>")
    assert "kommune.no" not in text and "kari" not in text
    assert "in failing" in text  # the stack says where
    assert record.exc_info is None  # the message is not logged a second time by the handler


def test_the_place_is_degraded_for_a_while_after_its_last_failure() -> None:
    clock = ManualClock(NOW)
    board = HealthBoard(clock)
    policy = ErrorPolicy(board)
    for _ in range(2):
        with policy.guard("sender slack"):
            failing()
    [(place, trouble)] = board.recent().items()
    assert (place, trouble.count) == ("sender slack", 2)
    assert trouble.last_error.startswith("ValueError: no seat for <address>")
    clock.advance(timedelta(minutes=16))
    assert board.recent() == {}


def test_messages_are_cleaned_and_bounded() -> None:
    assert without_personal_data("to <a.b@c.no>, ola@x.org") == "to <<address>>, <address>"
    assert len(without_personal_data("x" * 1000)) == 301
    assert describe(KeyError("k")) == "KeyError: 'k'"
    assert describe(RuntimeError()) == "RuntimeError"


def test_the_cause_is_named_too(caplog: pytest.LogCaptureFixture) -> None:
    policy = ErrorPolicy(HealthBoard(ManualClock(NOW)))
    with caplog.at_level(logging.ERROR):
        try:
            try:
                failing()
            except ValueError as exc:
                raise RuntimeError("wrapped") from exc
        except RuntimeError as exc:
            policy.unexpected("command Subscribe", exc)
    assert "caused by ValueError: no seat for <address>" in caplog.text


def test_every_process_reports_to_the_same_board(app: App, clock: ManualClock) -> None:
    """The worker process's failures show on the front's /healthz: the board is in the database."""
    worker = ErrorPolicy(HealthBoard(clock, app.db))  # another process, the same database
    with worker.guard("inbound slack.command", request=7):
        failing()
    with worker.guard("inbound slack.command", request=8):
        failing()
    [(place, trouble)] = app.health.recent().items()
    assert (place, trouble.count) == ("inbound slack.command", 2)
    assert trouble.last_error.startswith("ValueError: no seat for <address>")
    clock.advance(timedelta(minutes=16))
    assert app.health.recent() == {}
