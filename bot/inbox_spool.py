"""Acked requests the database could not take, kept on local disk until it can.

A channel acks a request before it is written (Slack wants its answer within 3 s), so a request
whose write fails must not be dropped: the inbox writer appends it here (one JSON object per line,
flushed to disk with fsync) and the inbox worker's upkeep writes the kept ones to the database once
it answers again, then removes the file. Keys are unique in the inbox, so a request written twice
(a crash between the write and the removal) is still carried out once.

Each process appends to a file of its own; a file is locked (flock) while it is appended to or
taken, so a file is never read half-written nor removed under a writer. The files hold what users
sent (their ids, their text): the folder is created 0700 and the files 0600.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

PATTERN = "inbox-*.jsonl"
Kept = dict[str, Any]  # channel, kind, key, payload


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / f"inbox-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"

    def keep(self, requests: list[Kept]) -> None:
        """Append `requests` durably (on disk when this returns). Raises OSError when it cannot."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        lines = "".join(json.dumps(request, ensure_ascii=False) + "\n" for request in requests)
        with self._locked_append() as file:
            file.write(lines)
            file.flush()
            os.fsync(file.fileno())

    def waiting(self) -> list[Path]:
        """The files of every process (a stopped one's too), oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob(PATTERN), key=lambda p: p.stat().st_mtime)

    def drain(self, write: Callable[[list[Kept]], None]) -> int:
        """Hand each kept file's requests to `write` (which raises if the database cannot take
        them) and remove the file; a file locked by its process right now waits for the next call.
        Returns how many requests were written."""
        written = 0
        for path in self.waiting():
            with _taken(path) as requests:
                if requests is None:
                    continue
                if requests:
                    write(requests)
                written += len(requests)
                path.unlink()
        return written

    @contextmanager
    def _locked_append(self) -> Iterator[IO[str]]:
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            file = os.fdopen(fd, "a", encoding="utf-8")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if _same_file(fd, self.path):  # not taken and removed while we waited for the lock
                    yield file
                    return
            finally:
                file.close()


@contextmanager
def _taken(path: Path) -> Iterator[list[Kept] | None]:
    """The requests in `path` under its lock; None when another process holds it or it is gone."""
    try:
        file = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        yield None
        return
    with file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        if not _same_file(file.fileno(), path):
            yield None
            return
        yield [request for line in file if line.strip() and (request := _parsed(line, path))]


def _parsed(line: str, path: Path) -> Kept:
    try:
        request = json.loads(line)
    except ValueError:  # a line cut off by a crash mid-write (never fsync'd, so never acked as kept)
        log.warning("inbox spool %s: a line that is not whole was skipped", path.name)
        return {}
    return request if isinstance(request, dict) else {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
