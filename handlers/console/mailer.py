"""Mail as the console shows it: printed instead of sent (console mode, and any bot without a mail
transport), so a new user still sees confirmation links work."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from bot.mail import MailMessage


class ConsoleMailer:
    def __init__(self, out: TextIO | None = None, lock: threading.Lock | None = None) -> None:
        self.out = out or sys.stdout
        self.lock = lock or threading.Lock()

    def send(self, message: MailMessage) -> None:
        with self.lock:
            print(f"\n[mail to {message.to}] {message.subject}\n{message.text}\n", file=self.out, flush=True)
