"""Outgoing channels: where the bot posts on its own (announcements, reminders, follow-ups)."""

from __future__ import annotations

import sys
import threading
from typing import Protocol, TextIO


class Announcer(Protocol):
    """A channel the scheduler can post to. Each channel renders the message in its own format."""

    name: str

    def announce(self, text: str) -> None: ...


class ConsoleAnnouncer:
    """Prints what the bot would post, for console mode."""

    name = "console"

    def __init__(self, out: TextIO | None = None, lock: threading.Lock | None = None) -> None:
        self.out = out or sys.stdout
        self.lock = lock or threading.Lock()

    def announce(self, text: str) -> None:
        with self.lock:
            print(f"\n[post] {text}\n", file=self.out, flush=True)
