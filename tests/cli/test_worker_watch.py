"""The parent's watch over its worker process when `stop` reaps the worker first (no thread error)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from bot.entry.worker_process import Nudger, WorkerProcess

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _watchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "worker-watch"]


def test_a_worker_reaped_by_stop_first_ends_the_watch_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[Any] = []
    exits: list[int] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    worker = WorkerProcess(pid, Nudger(write_fd))
    worker.stopping.set()  # as `stop` does before it reaps
    os.waitpid(pid, 0)  # `stop` won the race: the child is reaped already
    worker.watch(exits.append)
    deadline = time.monotonic() + 5
    while _watchers() and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.nudger.close()
    assert not _watchers()
    assert errors == []  # before the fix: ChildProcessError in the thread
    assert exits == []  # stopping: nobody is told the worker died
