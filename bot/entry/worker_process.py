"""The worker process of `baerekraft-bot run`: forked at start-up, it does the work (requests after
their ack, sending), while the parent serves the web, the channels and the schedule.

Why two processes: Python runs one thread at a time per process. A fan-out or a burst of commands
in the process that answers Slack would make every ack wait its turn; in a process of its own, at a
lower CPU priority (`WORKER_IDLE`, `WORKER_NICE`), the work takes what the answers leave. State is
in SQL either way. One pipe carries nudges ("deliveries are due", "weigh the mail caps":
bot/delivery/cap_warnings.py) and tells the worker when the parent is gone (end of file), so it
never outlives it; two more hand the acked requests over for the worker to record, and confirm them
(bot/inbox_handover.py).

Crash-only: when the worker dies, the parent stops too (exit 1), for the service manager to restart
both (systemd `Restart=always`, Docker `restart: unless-stopped`).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.inbox_handover import HandoverEnds, ReceiverEnds, pipes

log = logging.getLogger(__name__)
T = TypeVar("T")

INBOX, DELIVERIES, CAPS = b"i", b"d", b"c"
STOP_TIMEOUT = 40.0  # seconds for the worker to finish the sends in flight (leases are 30 s)
# Modules the libraries import only on first use (the web server's protocol and event loop, the HTTP
# transport, the scheduler's triggers): imported before the fork, each is one shared copy instead of
# one per process (about 3 MB less over the two).
IMPORTED_ON_FIRST_USE = (
    "anyio._backends._asyncio",
    "anyio.streams.memory",
    "anyio.streams.stapled",
    "anyio.streams.tls",
    "apscheduler.triggers.date",
    "apscheduler.triggers.interval",
    "h11",
    "httpcore",
    "httptools",
    "netrc",
    "uvicorn.lifespan.off",
    "uvicorn.loops.asyncio",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
)


class Nudger:
    """The parent's end of the pipe: one byte per nudge, never blocking (a full pipe already holds
    nudges enough; a closed one means the worker is gone, which the watcher reports)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)

    def inbox(self) -> None:
        self._write(INBOX)

    def deliveries(self) -> None:
        self._write(DELIVERIES)

    def caps(self) -> None:
        self._write(CAPS)

    def _write(self, code: bytes) -> None:
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self.fd, code)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def listen(
    fd: int,
    on_inbox: Callable[[], None],
    on_deliveries: Callable[[], None],
    on_caps: Callable[[], None],
    on_eof: Callable[[], None],
) -> threading.Thread:
    """The worker's end: calls back for each kind of nudge (each returns at once); `on_eof` when the
    parent is gone."""

    def run() -> None:
        while True:
            try:
                chunk = os.read(fd, 512)
            except OSError:
                chunk = b""
            if not chunk:
                on_eof()
                return
            if INBOX in chunk:
                on_inbox()
            if DELIVERIES in chunk:
                on_deliveries()
            if CAPS in chunk:
                on_caps()

    thread = threading.Thread(target=run, name="worker-nudges", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True)
class WorkerEnds:
    """The worker's ends of the pipes from the front: nudges, and the acked requests to record."""

    nudges: int
    requests: ReceiverEnds


@dataclass
class WorkerProcess:
    pid: int
    nudger: Nudger
    stopping: threading.Event = field(default_factory=threading.Event)
    exit_code: int | None = None

    handover: HandoverEnds | None = None  # where the front hands acked requests over

    @classmethod
    def fork(cls, child: Callable[[WorkerEnds], int]) -> WorkerProcess | None:
        """Fork; the child runs `child(ends)` and exits with its code. None when forking is not
        safe here (no fork on this platform, or threads already running: a fork copies their locks)."""
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        read_fd, write_fd = os.pipe()
        handover, receiver = pipes()
        for name in IMPORTED_ON_FIRST_USE:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        gc.collect()
        gc.freeze()  # what exists now stays shared between the two processes (no copy on write)
        pid = os.fork()
        if pid == 0:  # the worker
            for fd in (write_fd, handover.requests, handover.confirmations):
                os.close(fd)
            code = 1
            try:
                code = child(WorkerEnds(read_fd, receiver))
            except BaseException:
                log.exception("the worker process failed")
            finally:
                logging.shutdown()
                os._exit(code)
        for fd in (read_fd, receiver.requests, receiver.confirmations):
            os.close(fd)
        # The parent keeps them frozen too: start-up objects live as long as the process, and a full
        # collection that skips them is a shorter pause in the middle of a request.
        return cls(pid, Nudger(write_fd), handover=handover)

    def watch(self, on_exit: Callable[[int], None]) -> None:
        """Call `on_exit(code)` (in a thread) if the worker ends while not being stopped."""

        def run() -> None:
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # `stop` reaped it first (or the worker is no child of ours)
                if not self.stopping.is_set():
                    on_exit(1)
                return
            self.exit_code = os.waitstatus_to_exitcode(status)
            if not self.stopping.is_set():
                on_exit(self.exit_code)

        threading.Thread(target=run, name="worker-watch", daemon=True).start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL if the worker has not finished within `timeout`."""
        self.stopping.set()
        self.nudger.close()  # end of file: the worker stops even if the signal is lost
        _signal(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.exit_code is None and time.monotonic() < deadline:
            if _reaped(self.pid):
                return
            time.sleep(0.05)
        if self.exit_code is None and not _reaped(self.pid):
            log.warning("the worker process did not stop within %.0f s: killed", timeout)
            _signal(self.pid, signal.SIGKILL)


def lower_priority(nice: int) -> str:
    """Lower this thread's CPU priority by `nice` (before it starts threads: they inherit it)."""
    if nice <= 0:
        return "as the front"
    try:
        os.nice(nice)
    except OSError as exc:
        log.warning("could not lower the worker's priority (%s)", exc)
        return "as the front"
    return f"nice {nice}"


def started_idle(start: Callable[[], T]) -> T:
    """`start()` in a short-lived thread under Linux's SCHED_IDLE, so the threads it starts inherit
    it (a thread may lower its own policy, but unprivileged never raise it back): they run only when
    no ordinary thread wants the CPU. For the worker's command side (carrying out and recording the
    requests the front acked): at a nice value it still took a share, and an ack's wake-up could
    wait out its time slice (a millisecond or two), most of the ack's tail in a burst of commands.
    The senders stay at their nice value: a fan-out keeps its pace through a burst of acks.

    Scheduling is per control group: in a systemd unit or a container (a group of its own) that
    means only when the front has nothing to do, not behind every busy neighbour."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError) as exc:  # not Linux, or refused
            log.warning("could not give the worker's command side SCHED_IDLE (%s)", exc)
        try:
            outcome.append(start())
        except BaseException as exc:  # raised again in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="start-idle")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reaped(pid: int) -> bool:
    """True when the process is gone (reaped by the watcher, or by us now)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid
