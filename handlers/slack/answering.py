"""Answers that go out beside the inbox worker: a command's reply at its response_url and the App
Home published again, sent by a few threads of their own while the inbox worker carries out the next
requests.

Why: each is a round trip to Slack after the command committed; made in the inbox worker's thread,
a burst of clicks would wait for every one of them in turn. Nothing about exactly-once changes: the
command and its request's `executed` mark committed together before the answer is handed over, so
an answer is at most once as before (a worker that dies with answers still queued loses them, as it
would lose the one it was sending); a stop sends what is queued first.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bot.error_policy import ErrorPolicy

# Concurrent answers: each is one request to Slack; a response_url takes at most 5 answers (one
# here), so they never compete for the same URL.
THREADS = 8


class Answering:
    def __init__(self, errors: ErrorPolicy, threads: int = THREADS) -> None:
        self.errors = errors
        # Threads are made on the first answer (the worker process's, never the front's before it forks).
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="slack-answer")

    def later(self, what: str, send: Callable[[], None]) -> None:
        """Send soon, in one of the answering threads; a failure goes to the error policy."""
        self._pool.submit(self._guarded, what, send)

    def _guarded(self, what: str, send: Callable[[], None]) -> None:
        with self.errors.guard(f"Slack {what}"):
            send()

    def close(self) -> None:
        """Send what is queued, then stop the threads."""
        self._pool.shutdown(wait=True)
