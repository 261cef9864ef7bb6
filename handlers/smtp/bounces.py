"""The bounce mailbox of an SMTP set-up, read over IMAP (imaplib): every message in the folder is
handed to the bounce job, then flagged \\Deleted and expunged. Only TLS connections (from the first
byte, or STARTTLS), verified against the system's CAs or `SSL_CERT_FILE`.

A mailbox that cannot be reached or refuses the login is logged (the host, never the password) and
read again at the next run; a message whose bounces could not be recorded stays in the mailbox.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Callable, Sequence
from email.parser import BytesHeaderParser

from bot.bounce_source import ReturnedMail
from handlers.smtp.settings import ImapSettings

log = logging.getLogger(__name__)

UID = re.compile(rb"\bUID (\d+)")


class ImapFailed(Exception):
    """The server answered a command with NO or BAD."""


class ImapBounces:
    name = "smtp"

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self.where = f"IMAP {settings.host}:{settings.port}"

    def read(self, handle: Callable[[ReturnedMail], None]) -> int:
        try:
            imap = self._open()
        except (OSError, imaplib.IMAP4.error, ImapFailed) as exc:
            log.warning("bounces: cannot read %s: %s; trying again at the next run", self.where, _why(exc))
            return 0
        try:
            return self._read(imap, handle)
        except (OSError, imaplib.IMAP4.error, ImapFailed) as exc:
            log.warning("bounces: reading %s failed: %s; trying again at the next run", self.where, _why(exc))
            return 0
        finally:
            _close(imap)

    def _open(self) -> imaplib.IMAP4:
        s = self.settings
        context = ssl.create_default_context()  # the system's CAs, or SSL_CERT_FILE
        imap: imaplib.IMAP4
        if s.tls:
            imap = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=context, timeout=s.timeout)
        else:
            imap = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
            try:
                imap.starttls(ssl_context=context)  # never a password in the clear
            except BaseException:
                _close(imap)
                raise
        try:
            _ok(imap.login(s.username, s.password), "LOGIN")
            _ok(imap.select(_mailbox(s.folder)), "SELECT")
        except BaseException:
            _close(imap)
            raise
        return imap

    def _read(self, imap: imaplib.IMAP4, handle: Callable[[ReturnedMail], None]) -> int:
        found = _ok(imap.uid("SEARCH", "UNDELETED"), "UID SEARCH")
        uids = found[0].split() if found and isinstance(found[0], bytes) else []
        handed = 0
        for uid in uids:
            raw = _body(_ok(imap.uid("FETCH", uid.decode(), "(UID BODY.PEEK[])"), "UID FETCH"))
            if raw is None:
                continue
            handle(ReturnedMail(_ref(raw, uid.decode()), raw))
            _ok(imap.uid("STORE", uid.decode(), "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
            handed += 1
        if handed:
            _ok(imap.expunge(), "EXPUNGE")
        return handed


def _ok(answer: tuple[str, Sequence[object]], command: str) -> Sequence[object]:
    kind, data = answer
    if kind != "OK":
        said = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise ImapFailed(f"{command} answered {kind} {said}"[:200])
    return data


def _body(data: Sequence[object]) -> bytes | None:
    """The message of a `* n FETCH (UID u BODY[] {len}` answer (imaplib gives the literal as the
    second half of a tuple)."""
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _ref(raw: bytes, uid: str) -> str:
    """The report's own Message-ID (the same wherever it is read), else the mailbox's UID."""
    found = BytesHeaderParser().parsebytes(raw).get("Message-ID")
    return f"mid:{' '.join(str(found).split())}"[:250] if found else f"uid:{uid}"


def _mailbox(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:200]


def _close(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        imap.logout()
