"""The console's outgoing side: prints each announcement the bot would post (console mode)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from bot.delivery.channels import Headcount, OutgoingMessage, Pace, Recipient, Target
from bot.delivery.messages import render
from bot.rendering import Renderer
from bot.views import SeriesView


class ConsoleSender:
    channel = "console"
    in_flight = 1

    def __init__(
        self, renderer: Renderer, out: TextIO | None = None, lock: threading.Lock | None = None
    ) -> None:
        self.renderer = renderer
        self.out = out or sys.stdout
        self.lock = lock or threading.Lock()

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        """One post per message: the console is the series' announcement channel (and its organiser)."""
        return [Target("console", series.language)]

    def paced_sends(self, kind: str, series: SeriesView, headcount: Headcount) -> list[tuple[Pace, int]]:
        return []  # no pace

    def pacing(self, target: str) -> list[Pace]:
        return []

    def send(self, message: OutgoingMessage) -> str | None:
        rendered = render(self.renderer, message)
        with self.lock:
            print(f"\n[post] {rendered.subject}\n{rendered.body}\n", file=self.out, flush=True)
        return None

    def find_sent(self, message: OutgoingMessage) -> str | None:
        return None
