"""The console channel: lines from standard input in, rendered replies out (like Errbot's text backend).

Works interactively and through a pipe: `echo "meld på" | baerekraft-bot shell --as kari@kommune.no`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TextIO

from bot.app import App
from bot.commands import Actor
from bot.parser import parse

EXIT_WORDS = frozenset({"exit", "quit", "avslutt", "slutt", ":q"})


class ConsoleHandler:
    def __init__(self, app: App, actor: Actor, out: TextIO, lock: threading.Lock | None = None) -> None:
        self.app, self.actor, self.out = app, actor, out
        self.lock = lock or threading.Lock()

    def respond(self, line: str) -> str:
        """One line in, one rendered reply out: parse → dispatch → render."""
        reply = self.app.dispatcher.execute(self.actor, parse(line))
        return self.app.renderer.reply(reply, fmt="text")

    def run(self, lines: Iterable[str], *, interactive: bool = False) -> None:
        if interactive:
            self._print(
                "Skriv «hjelp» for å se hva jeg kan, «avslutt» for å gå ut. (Type “help”, or “exit”.)"
            )
        for line in lines:
            text = line.strip()
            if not text:
                continue
            if text.lower() in EXIT_WORDS:
                break
            self._print(self.respond(text))

    def _print(self, text: str) -> None:
        with self.lock:
            print(text, file=self.out, flush=True)
            print(file=self.out, flush=True)
