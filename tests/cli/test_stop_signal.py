"""A SIGTERM stops `run` whichever thread of the process the kernel hands it to.

Python runs a signal's handler in the main thread, but the kernel may deliver a signal sent to the
process to any of its threads (under load, often to one already running). An untimed wait in the
main thread is then never interrupted, the handler never runs, and the bot never stops: this once
made the one-process `run` outlive its SIGTERM. The test delivers the signal to another thread on
purpose, once the main thread waits for the stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts a real process

# A runtime that starts nothing: its start hands SIGTERM to a thread of its own once the main
# thread waits in `_until_signalled`; its stop says so on standard output.
SCRIPT = """
import signal, sys, threading
from bot.entry.cli import launch

main = threading.main_thread().ident

def waiting_in_main():
    frame = sys._current_frames().get(main)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    # waiting for the stop: not for a thread to start (`Thread.start` waits too)
    return names[:2] == ["wait", "wait"] and "_until_signalled" in names and "start" not in names

def elsewhere():
    while not waiting_in_main():
        threading.Event().wait(0.01)
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
    threading.Event().wait()  # alive, so the signal is this thread's to take

class Runtime:
    def start(self):
        threading.Thread(target=elsewhere, daemon=True).start()

    def stop(self):
        print("stopped", flush=True)

sys.exit(launch._until_signalled(Runtime()))
"""


def test_a_sigterm_taken_by_another_thread_than_the_main_one_stops_the_bot(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=20, check=False
    )
    assert (done.returncode, done.stdout) == (0, "stopped\n"), done.stderr


# The main thread's wait for the stop takes SIGTERM while it holds the lock of the Event it waits on
# (as at the end of each slice, for a moment): the process signals itself inside `with self._cond`,
# and Python runs the handler right after `os.kill` returns, that lock still held.
SIGNAL_WHILE_LOCKED = """
import os, signal, sys, threading
from bot.entry.cli import launch

class Event(threading.Event):
    signalled = False

    def wait(self, timeout=None):
        if not Event.signalled:
            Event.signalled = True
            with self._cond:
                os.kill(os.getpid(), signal.SIGTERM)
        return super().wait(timeout)

threading.Event = Event  # the runtime below starts no thread: only the wait for the stop waits

class Runtime:
    def start(self):
        pass

    def stop(self):
        print("stopped", flush=True)

sys.exit(launch._until_signalled(Runtime()))
"""


def test_a_sigterm_that_comes_while_the_wait_holds_its_lock_stops_the_bot(tmp_path: Path) -> None:
    """A handler that set the Event waited for a lock its own thread held, for good: the worker
    process once outlived the test's 20 s so, until the front killed it."""
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_WHILE_LOCKED],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "stopped\n"), done.stderr
