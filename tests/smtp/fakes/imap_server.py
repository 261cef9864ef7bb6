"""A small but real IMAP4rev1 server (RFC 3501) on 127.0.0.1 over TLS from the first byte (the test
CA, trusted through SSL_CERT_FILE as a company CA is), holding one user's folders: enough of the
protocol for a client that logs in, selects a folder, searches, fetches, flags and expunges.

No maintained IMAP server library for Python is at hand offline, so this one speaks the wire format
itself, strictly: tagged commands, quoted strings and literals in arguments, the states of RFC 3501
(a command before LOGIN or before SELECT is answered BAD), sequence sets with `*` and ranges, and
untagged answers as real servers give them (`* n FETCH (UID u BODY[] {len}`, `* n EXPUNGE`).
Anything else is BAD. `fail_logins` refuses the next logins with NO [AUTHENTICATIONFAILED];
`stop()` closes the port, so connections are refused.
"""

from __future__ import annotations

import re
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.https_fake import local_ca

ATOM = re.compile(rb'[^\s()"{}\\]+')


@dataclass
class Stored:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class FakeImap:
    username: str = "bounces@ks.example.org"
    password: str = 'pa ss"word\\1'  # a quoted string with escapes, as real passwords may need
    folders: dict[str, list[Stored]] = field(default_factory=lambda: {"INBOX": []})
    fail_logins: int = 0
    commands: list[str] = field(default_factory=list)  # every command received, passwords masked
    uidvalidity: int = 1765000000
    port: int = 0

    def __post_init__(self) -> None:
        self._next_uid = 1
        self._lock = threading.RLock()
        self._server: socketserver.ThreadingTCPServer | None = None

    def deliver(self, raw: bytes, folder: str = "INBOX") -> int:
        with self._lock:
            uid = self._next_uid
            self._next_uid += 1
            self.folders.setdefault(folder, []).append(Stored(uid, raw))
            return uid

    def messages(self, folder: str = "INBOX") -> list[Stored]:
        with self._lock:
            return list(self.folders.get(folder, []))

    def start(self) -> FakeImap:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                Session(fake, self.rfile, self.wfile).run()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self) -> tuple[socket.socket, Any]:
                sock, address = super().get_request()
                return local_ca().server_context().wrap_socket(sock, server_side=True), address

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="fake-imap", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class Bad(Exception):
    """A command the server does not accept as written (answered BAD)."""


class Session:
    def __init__(self, fake: FakeImap, rfile: Any, wfile: Any) -> None:
        self.fake, self.rfile, self.wfile = fake, rfile, wfile
        self.user: str | None = None
        self.folder: str | None = None

    def send(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def run(self) -> None:
        self.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake IMAP ready")
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            try:
                tag, command, args = self.parse(line.rstrip(b"\r\n"))
            except Bad as exc:
                self.send(b"* BAD " + str(exc).encode())
                continue
            try:
                done = self.execute(tag, command, args)
            except Bad as exc:
                self.send(tag + b" BAD " + str(exc).encode())
                continue
            if done:
                return

    def parse(self, line: bytes) -> tuple[bytes, str, list[bytes]]:
        """Tag, command (upper case, `UID x` as one) and arguments: atoms, quoted strings, literals,
        and parenthesised lists kept as written."""
        tag, _, rest = line.partition(b" ")
        if not re.fullmatch(rb"[A-Za-z0-9]+", tag) or not rest:
            raise Bad("malformed command")
        args: list[bytes] = []
        i = 0
        while i < len(rest):
            ch = rest[i : i + 1]
            if ch == b" ":
                i += 1
            elif ch == b'"':
                value, i = self.quoted(rest, i + 1)
                args.append(value)
            elif ch == b"(":
                end = rest.index(b")", i)
                args.append(rest[i : end + 1])
                i = end + 1
            elif ch == b"{":
                found = re.match(rb"\{(\d+)\}$", rest[i:])
                if found is None:
                    raise Bad("bad literal")
                self.send(b"+ Ready for literal data")
                args.append(self.rfile.read(int(found.group(1))))
                rest = self.rfile.readline(65536).rstrip(b"\r\n")
                i = 0
            else:
                atom = ATOM.match(rest, i)
                if atom is None:
                    raise Bad("bad argument")
                args.append(atom.group(0))
                i = atom.end()
        command = args.pop(0).decode("ascii", "replace").upper()
        if command == "UID" and args:
            command = "UID " + args.pop(0).decode("ascii", "replace").upper()
        return tag, command, args

    @staticmethod
    def quoted(text: bytes, i: int) -> tuple[bytes, int]:
        out = bytearray()
        while i < len(text):
            ch = text[i : i + 1]
            if ch == b"\\":
                if text[i + 1 : i + 2] not in (b"\\", b'"'):
                    raise Bad("bad escape in a quoted string")
                out += text[i + 1 : i + 2]
                i += 2
            elif ch == b'"':
                return bytes(out), i + 1
            else:
                out += ch
                i += 1
        raise Bad("unterminated quoted string")

    def execute(self, tag: bytes, command: str, args: list[bytes]) -> bool:
        shown = (
            "LOGIN ***"
            if command == "LOGIN"
            else " ".join([command, *(a.decode("ascii", "replace") for a in args)])
        )
        self.fake.commands.append(shown)
        if command == "CAPABILITY":
            self.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN")
        elif command == "NOOP":
            pass
        elif command == "LOGOUT":
            self.send(b"* BYE logging out")
            self.send(tag + b" OK LOGOUT completed")
            return True
        elif command == "LOGIN":
            return self.login(tag, args)
        elif self.user is None:
            raise Bad(f"{command} before LOGIN")
        elif command in ("SELECT", "EXAMINE"):
            return self.select(tag, args)
        elif self.folder is None:
            raise Bad(f"{command} before SELECT")
        elif command == "UID SEARCH":
            self.search(args)
        elif command == "UID FETCH":
            self.fetch(args)
        elif command == "UID STORE":
            self.store(args)
        elif command == "EXPUNGE":
            self.expunge()
        else:
            raise Bad(f"unknown command {command}")
        self.send(tag + b" OK " + command.encode() + b" completed")
        return False

    def login(self, tag: bytes, args: list[bytes]) -> bool:
        if len(args) != 2:
            raise Bad("LOGIN takes a user name and a password")
        with self.fake._lock:
            refused = self.fake.fail_logins > 0
            self.fake.fail_logins -= 1 if refused else 0
        if refused or args[0].decode() != self.fake.username or args[1].decode() != self.fake.password:
            self.send(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials")
            return False
        self.user = self.fake.username
        self.send(tag + b" OK [CAPABILITY IMAP4rev1] LOGIN completed")
        return False

    def select(self, tag: bytes, args: list[bytes]) -> bool:
        if len(args) != 1:
            raise Bad("SELECT takes one mailbox")
        name = args[0].decode()
        name = "INBOX" if name.upper() == "INBOX" else name
        if name not in self.fake.folders:
            self.folder = None
            self.send(tag + b" NO [NONEXISTENT] no such mailbox")
            return False
        self.folder = name
        count = len(self.fake.messages(name))
        self.send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        self.send(f"* {count} EXISTS".encode())
        self.send(b"* 0 RECENT")
        self.send(f"* OK [UIDVALIDITY {self.fake.uidvalidity}] UIDs valid".encode())
        self.send(f"* OK [UIDNEXT {self.fake._next_uid}] predicted next UID".encode())
        self.send(tag + b" OK [READ-WRITE] SELECT completed")
        return False

    def _stored(self) -> list[Stored]:
        return self.fake.folders[self.folder or "INBOX"]

    def _uids(self, spec: bytes) -> list[int]:
        """A sequence set of UIDs (`1,3:5,7:*`) against the folder's messages."""
        have = [m.uid for m in self._stored()]
        top = max(have, default=0)
        chosen: set[int] = set()
        for part in spec.decode("ascii", "replace").split(","):
            low, _, high = part.partition(":")
            if not re.fullmatch(r"\d+|\*", low) or (high and not re.fullmatch(r"\d+|\*", high)):
                raise Bad(f"bad sequence set {spec!r}")
            a = top if low == "*" else int(low)
            b = a if not high else (top if high == "*" else int(high))
            chosen.update(u for u in have if min(a, b) <= u <= max(a, b))
        return sorted(chosen)

    def search(self, args: list[bytes]) -> None:
        keys = [a.decode().upper() for a in args]
        found = []
        for message in self._stored():
            if keys == ["ALL"] or (keys == ["UNDELETED"] and "\\Deleted" not in message.flags):
                found.append(message.uid)
            elif keys not in (["ALL"], ["UNDELETED"]):
                raise Bad(f"search keys not supported: {' '.join(keys)}")
        self.send(b"* SEARCH" + b"".join(f" {u}".encode() for u in found))

    def fetch(self, args: list[bytes]) -> None:
        if len(args) != 2 or args[1].upper() not in (b"(UID BODY.PEEK[])", b"(BODY.PEEK[])", b"(RFC822)"):
            raise Bad("FETCH items not supported")
        wanted = set(self._uids(args[0]))
        for seq, message in enumerate(self._stored(), start=1):
            if message.uid in wanted:
                head = f"* {seq} FETCH (UID {message.uid} BODY[] {{{len(message.raw)}}}".encode()
                self.wfile.write(head + b"\r\n" + message.raw + b")\r\n")

    def store(self, args: list[bytes]) -> None:
        if len(args) != 3 or args[1].upper() not in (b"+FLAGS", b"+FLAGS.SILENT"):
            raise Bad("STORE supports +FLAGS only")
        flags = set(args[2].strip(b"()").decode().split())
        wanted = set(self._uids(args[0]))
        for seq, message in enumerate(self._stored(), start=1):
            if message.uid in wanted:
                message.flags |= flags
                if not args[1].upper().endswith(b".SILENT"):
                    shown = " ".join(sorted(message.flags))
                    self.send(f"* {seq} FETCH (UID {message.uid} FLAGS ({shown}))".encode())

    def expunge(self) -> None:
        with self.fake._lock:
            stored = self._stored()
            seq = 1
            for message in list(stored):
                if "\\Deleted" in message.flags:
                    stored.remove(message)
                    self.send(f"* {seq} EXPUNGE".encode())
                else:
                    seq += 1
