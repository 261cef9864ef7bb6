"""The development mailbox: in console mode without any mail transport, every mail the bot would
send (invitations, reminders, confirmation links) is written as an `.eml` file to `MAIL_DIR`, the
same MIME an SMTP relay would get, so a newcomer can open what a subscriber would receive in any
mail program. The folder and its files are readable by their owner only (they hold addresses and
personal unsubscribe links).

A file's name ends with a hash of the Message-ID, so a mail in doubt after a crash is found again
(`find`) instead of written twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import TextIO

from bot.clock import Clock
from bot.delivery.channels import Pace, TransientError

SENDER = "baerekraft-bot@localhost"  # From, as no real mailbox sends these
UNSAFE = re.compile(r"[^A-Za-z0-9@._-]+")


class EmlFolder:
    sender = SENDER

    def __init__(self, folder: Path, clock: Clock, out: TextIO, lock: threading.Lock) -> None:
        self.folder, self.clock, self.out, self.lock = folder.resolve(), clock, out, lock

    def paces(self) -> list[Pace]:
        return []

    def deliver(self, mime: bytes, *, to: str, message_id: str) -> str:
        """Write the mail and say so on the console; returns its path (the delivery's reference)."""
        stamp = self.clock.now().strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"{stamp}-{UNSAFE.sub('_', to)[:60]}-{_tag(message_id)}.eml"
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(mime)
        except OSError as exc:
            raise TransientError(f"cannot write {path}: {exc}") from exc
        subject = BytesHeaderParser(policy=default).parsebytes(mime).get("Subject", "")
        with self.lock:
            print(f"\n[mail to {to}] {subject}\n  written to {path}\n", file=self.out, flush=True)
        return str(path)

    def find(self, message_id: str) -> str | None:
        found = sorted(self.folder.glob(f"*-{_tag(message_id)}.eml")) if self.folder.is_dir() else []
        return str(found[0]) if found else None


def _tag(message_id: str) -> str:
    return hashlib.sha256(message_id.encode()).hexdigest()[:16]
