"""Answers sent beside the inbox worker: each once, a failure reported without stopping the others,
and what is queued sent before a stop returns."""

from __future__ import annotations

import logging
import threading

import pytest

from bot.clock import SystemClock
from bot.error_policy import ErrorPolicy, HealthBoard
from handlers.slack.answering import Answering


def test_queued_answers_are_all_sent_before_close_returns(caplog: pytest.LogCaptureFixture) -> None:
    answering = Answering(ErrorPolicy(HealthBoard(SystemClock())), threads=2)
    hold = threading.Event()
    sent: list[int] = []

    def send(n: int) -> None:
        hold.wait(5)
        if n == 3:
            raise ConnectionError("Slack unreachable")
        sent.append(n)

    for n in range(10):
        answering.later("answer", lambda n=n: send(n))
    assert sent == []  # the caller did not wait for any of them
    threading.Timer(0.05, hold.set).start()
    with caplog.at_level(logging.ERROR):
        answering.close()
    assert sorted(sent) == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    [failure] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Slack answer" in failure.getMessage()
