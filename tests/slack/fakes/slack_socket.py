"""A fake Socket Mode endpoint: a WebSocket server on 127.0.0.1 (port 0), as wss-less as slack_sdk's
own tests use it. It says hello, sends envelopes (slash commands, interactions, events) and collects
the client's acks; it answers pings. `FakeSlackAPI.socket_url` hands its address to apps.connections.open.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def _frame(opcode: int, payload: bytes) -> bytes:
    """A server frame: final, unmasked."""
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    if len(payload) < 65536:
        return head + bytes([126]) + struct.pack("!H", len(payload)) + payload
    return head + bytes([127]) + struct.pack("!Q", len(payload)) + payload


def _read_exactly(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(conn: socket.socket) -> tuple[int, bytes]:
    """A client frame (always masked)."""
    first, second = _read_exactly(conn, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exactly(conn, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _read_exactly(conn, 8))[0]
    mask = _read_exactly(conn, 4) if second & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(_read_exactly(conn, length)))
    return first & 0x0F, payload


class FakeSocketMode:
    """One Socket Mode connection at a time, like an app with a single connection."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._changed = threading.Condition()
        self._acks: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.connections = 0
        self.closed_by_client = False
        self._dropped: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._serve, name="fake-socket-mode", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=fake"

    def start(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._listener.close()
        if self._conn is not None:
            self._conn.close()

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope (`slash_commands`, `interactive`, `events_api`); returns its id."""
        envelope_id = f"env-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": True,
        }
        self._send(TEXT, json.dumps(envelope).encode())
        return envelope_id

    def wait_connected(self, timeout: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._conn is not None, timeout):
                raise AssertionError("Socket Mode client did not connect")

    def ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        with self._changed:
            if not self._changed.wait_for(lambda: envelope_id in self._acks, timeout):
                raise AssertionError(f"no ack for {envelope_id}")
            return self._acks[envelope_id]

    def wait_connections(self, count: int, timeout: float = 10.0) -> None:
        """Until the client has connected `count` times in all (and is connected now)."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: self.connections >= count and self._conn is not None, timeout
            ):
                raise AssertionError(f"Socket Mode client connected {self.connections} times, not {count}")

    def drop(self) -> None:
        """Slack ends the connection (a deploy, a network fault): a close frame, then the socket."""
        with self._changed:
            conn, self._conn = self._conn, None
            assert conn is not None, "no Socket Mode connection"
            self._dropped.add(conn)
        try:
            with self._send_lock:
                conn.sendall(_frame(CLOSE, b"\x03\xe9going away"))  # 1001
        finally:
            conn.shutdown(socket.SHUT_RDWR)

    def wait_closed(self, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.closed_by_client, timeout)

    def _send(self, opcode: int, payload: bytes, conn: socket.socket | None = None) -> None:
        target = conn or self._conn
        assert target is not None, "no Socket Mode connection"
        with self._send_lock:
            target.sendall(_frame(opcode, payload))

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        try:
            self._handshake(conn)
            with self._changed:
                self._conn, self.connections = conn, self.connections + 1
                self._changed.notify_all()
            hello = {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0BOT"}}
            self._send(TEXT, json.dumps(hello).encode(), conn)
            while True:
                opcode, payload = _read_frame(conn)
                if opcode == PING:
                    self._send(PONG, payload, conn)
                elif opcode == CLOSE:
                    break
                elif opcode == TEXT:
                    message = json.loads(payload)
                    with self._changed:
                        self._acks[message["envelope_id"]] = message
                        self._changed.notify_all()
        except (ConnectionError, OSError):
            pass
        finally:
            with self._changed:
                self.closed_by_client = self.closed_by_client or conn not in self._dropped
                self._changed.notify_all()
            conn.close()

    @staticmethod
    def _handshake(conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(1024)
            if not chunk:
                raise ConnectionError("closed during handshake")
            request += chunk
        headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
        key = headers["Sec-WebSocket-Key"].strip()
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455
        conn.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )


@contextmanager
def running_socket_mode() -> Iterator[FakeSocketMode]:
    fake = FakeSocketMode().start()
    try:
        yield fake
    finally:
        fake.stop()
