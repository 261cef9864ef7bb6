"""The console's input side: lines from standard input in, rendered replies out.

Works interactively and through a pipe: `echo "meld på" | baerekraft-bot shell --as kari@kommune.no`.
Each line goes through the inbox like any channel's command, carried out at once in this thread
(`Inbox.run_now`), so the reply is printed before the next line is read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TextIO

EXIT_WORDS = frozenset({"exit", "quit", "avslutt", "slutt", ":q"})
GREETING = "Skriv «hjelp» for å se hva jeg kan, «avslutt» for å gå ut. (Type “help”, or “exit”.)"


class ConsoleHandler:
    def __init__(
        self, respond: Callable[[str], str], out: TextIO, lock: threading.Lock | None = None
    ) -> None:
        self.respond, self.out = respond, out
        self.lock = lock or threading.Lock()

    def run(self, lines: Iterable[str], *, interactive: bool = False) -> None:
        if interactive:
            self._print(GREETING)
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
