"""The front hands the requests it acked to the worker process, which records them in the inbox.

Why: recording a group of requests costs the process that does it about 30 µs of interpreter per
request and a commit. In the front that time is taken from the acks (one interpreter runs one thread
at a time), and it was the tail of the ack latency: with 1 sender p99 1.5–3 ms with the writer in
the front, 0.5–0.6 ms without it (a bare Bolt app: 0.4 ms). In the worker process, at its lower CPU
priority, the recording takes what the acks leave.

How: each request is one line of JSON on a pipe (front → worker), numbered in the order it was
acked; the worker's inbox writer records them in groups as in one process (bot/inbox_writer.py), and
after each group it writes back the highest number it dealt with (8 bytes on a second pipe). The
front keeps every request until its number comes back. If the worker dies or the pipe breaks first,
the front records the unconfirmed requests itself (keys are unique: one recorded twice is kept
once), so an acked request is lost only if the front dies too, as when it recorded them itself.

The thread that acks numbers and encodes a request and queues the line; one thread of the front
writes the lines to the pipe and blocks when it is full (a worker that lags), never the acks.
Another reads the confirmations.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from bot.inbox_writer import Arrival, InboxWriter

log = logging.getLogger(__name__)

MAX_BATCH = 500  # requests joined into one pipe write
SPACING_SECONDS = 0.01  # between two pipe writes during a burst (see Handover._send)
CONFIRMATION = 8  # bytes: the highest number dealt with, big-endian
PIPE_BYTES = 1 << 20  # asked for (Linux caps it at /proc/sys/fs/pipe-max-size): a burst fits


@dataclass(frozen=True)
class HandoverEnds:
    """The front's ends of the two pipes: requests out, confirmations in."""

    requests: int
    confirmations: int


@dataclass(frozen=True)
class ReceiverEnds:
    """The worker's ends: requests in, confirmations out."""

    requests: int
    confirmations: int


def pipes() -> tuple[HandoverEnds, ReceiverEnds]:
    """The two pipes between front and worker, made before the fork; each side closes the other's ends."""
    requests_in, requests_out = os.pipe()
    confirmations_in, confirmations_out = os.pipe()
    widen(requests_out)
    return HandoverEnds(requests_out, confirmations_in), ReceiverEnds(requests_in, confirmations_out)


def widen(fd: int) -> None:
    """A larger pipe buffer where the platform allows (a burst then waits in the kernel, not in
    the front's queue); the default (64 KiB) otherwise."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux
    if set_size is not None:
        with contextlib.suppress(OSError):  # above the system's limit: the default serves
            fcntl.fcntl(fd, set_size, PIPE_BYTES)


def encode(arrival: Arrival) -> bytes:
    """One line: `[seq,channel,kind,key,payload]` (JSON never holds a raw newline)."""
    body = json.dumps([arrival.channel, arrival.kind, arrival.key, arrival.payload], separators=(",", ":"))
    return f"[{arrival.seq},{body[1:]}\n".encode()


def decode(line: bytes) -> tuple[int, str, str, str, dict[str, Any]]:
    seq, channel, kind, key, payload = json.loads(line)
    return int(seq), str(channel), str(kind), str(key), dict(payload)


class Handover:
    """The front's end: `submit` returns at once; `finish` ends the stream (the worker's end then
    reads to its end); `close` waits for the worker's last confirmations and records what it never
    confirmed through `fallback`, the front's own inbox writer."""

    def __init__(self, ends: HandoverEnds, fallback: InboxWriter, spacing: float = SPACING_SECONDS) -> None:
        self.ends, self.fallback, self.spacing = ends, fallback, spacing
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._unconfirmed: deque[Arrival] = deque()
        self._lock = threading.Lock()
        self._seq = 0
        self._taken_back = False  # the worker is gone: everything goes to `fallback`
        self._sender = threading.Thread(target=self._send, name="inbox-handover", daemon=True)
        self._reader = threading.Thread(
            target=self._read_confirmations, name="inbox-confirmations", daemon=True
        )
        self._sender.start()
        self._reader.start()

    def submit(self, arrival: Arrival) -> None:
        """Numbered and encoded here, in the thread that acked (about 10 µs); the sender thread only
        writes bytes, so it never holds the interpreter for long while that thread waits for it."""
        with self._lock:
            if self._taken_back:
                self.fallback.submit(arrival)
                return
            self._seq += 1
            numbered = replace(arrival, seq=self._seq)
            try:
                line = encode(numbered)
            except (TypeError, ValueError):  # not JSON: the writer here reports it as it would
                self.fallback.submit(arrival)
                return
            self._unconfirmed.append(numbered)
        self._queue.put(line)

    @property
    def unconfirmed(self) -> int:
        with self._lock:
            return len(self._unconfirmed)

    def finish(self, timeout: float = 10.0) -> None:
        """No more requests: send what is queued, then end the stream."""
        if self._sender.is_alive():
            self._queue.put(None)
            self._sender.join(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """After the worker was asked to stop: its last confirmations, then what it never confirmed
        recorded here (by `fallback`, whose own close writes it)."""
        self.finish(timeout)
        self._reader.join(timeout)
        self._take_back("it did not confirm them before the front stopped")

    def _send(self) -> None:
        began = float("-inf")  # when the last batch was sent
        while True:
            batch: list[bytes | None] = [self._queue.get()]
            # During a burst, writes at least `spacing` apart: each wake-up of this thread takes the
            # interpreter from the thread that acks for a moment. After a quiet spell: at once.
            if (wait := began + self.spacing - time.monotonic()) > 0 and batch[-1] is not None:
                time.sleep(wait)
            began = time.monotonic()
            while batch[-1] is not None and len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            end = batch[-1] is None
            lines = [line for line in batch if line is not None]
            if lines and not self._taken_back:
                try:
                    _write_all(self.ends.requests, b"".join(lines))
                except OSError as exc:  # EPIPE: the worker's end is closed
                    self._take_back(
                        f"the pipe to the worker process broke ({exc.strerror or type(exc).__name__})"
                    )
            if end:
                with contextlib.suppress(OSError):
                    os.close(self.ends.requests)
                return

    def _read_confirmations(self) -> None:
        pending = b""
        for chunk in _chunks(self.ends.confirmations, 4096):
            pending += chunk
            whole = len(pending) - len(pending) % CONFIRMATION
            if not whole:
                continue
            upto = int.from_bytes(pending[whole - CONFIRMATION : whole], "big")
            pending = pending[whole:]
            with self._lock:
                while self._unconfirmed and self._unconfirmed[0].seq <= upto:
                    self._unconfirmed.popleft()
        self._take_back("the worker process stopped")

    def _take_back(self, why: str) -> None:
        with self._lock:
            self._taken_back = True
            back = list(self._unconfirmed)
            self._unconfirmed.clear()
            for arrival in back:  # in the order they were acked, before any later one
                self.fallback.submit(replace(arrival, seq=0))
        if back:
            log.warning(
                "%d acked request(s) not recorded by the worker process (%s): recorded here", len(back), why
            )


class Receiver:
    """The worker's end: reads the front's requests and hands each to `take` (which submits it to
    this process's inbox writer); `confirm(group)`, called by that writer after each group, tells
    the front which it may forget."""

    def __init__(
        self, ends: ReceiverEnds, take: Callable[[int, str, str, str, dict[str, Any]], None]
    ) -> None:
        self.ends, self.take = ends, take
        self._thread = threading.Thread(target=self._run, name="inbox-receiver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Until the front's stream ends (it finished, or it is gone); False when still open."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def confirm(self, group: list[Arrival]) -> None:
        upto = max((arrival.seq for arrival in group), default=0)
        if upto:
            with contextlib.suppress(OSError):  # the front is gone: nobody waits for it
                os.write(self.ends.confirmations, upto.to_bytes(CONFIRMATION, "big"))

    def close(self) -> None:
        """After the last group was written (the front takes back what was never confirmed)."""
        with contextlib.suppress(OSError):
            os.close(self.ends.confirmations)

    def _run(self) -> None:
        pending = b""
        for chunk in _chunks(self.ends.requests, 1 << 16):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                try:
                    request = decode(line)
                except (ValueError, TypeError) as exc:  # only a defect could make one
                    log.error("inbox handover: an unreadable line (%s), not recorded", type(exc).__name__)
                    continue
                self.take(*request)


def _chunks(fd: int, size: int) -> Iterator[bytes]:
    """What arrives on the pipe `fd` until its other end is closed (or it broke); then it is closed."""
    try:
        while True:
            try:
                chunk = os.read(fd, size)
            except OSError:
                return
            if not chunk:
                return
            yield chunk
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
