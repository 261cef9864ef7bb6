"""Where bounces come from: a mailbox a channel reads (the organiser mailbox through Graph, a bounce
mailbox over IMAP). The bounce job (jobs/bounces.py) hands each source a callback; the source calls
it once per message it has not handed over before, and marks the message read only after the
callback returned (its bounces are then committed), so a crash in between reads it again, and the
bounce's key makes that count once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ReturnedMail:
    """One message from a bounce mailbox: `ref` names it within its source for good (an
    Internet Message-ID, or the mailbox's id), `mime` is the message as it arrived."""

    ref: str
    mime: bytes


class BounceSource(Protocol):
    name: str  # "microsoft365", "smtp": the prefix of the bounces' keys

    def read(self, handle: Callable[[ReturnedMail], None]) -> int:
        """Hand every new message to `handle`; the number handed over. Raises when the mailbox
        cannot be read now (the job logs it; the next run tries again)."""
        ...
