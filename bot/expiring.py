"""A lookup cache with an expiry per entry and a bound on its size, shared by threads: for answers
from a platform's directory (who a Slack or Teams user is), which every new person adds to.

At the bound the entry written longest ago goes first, whether it expired or not (a read does not
keep an entry; a lookup made again writes it anew): a directory of 100,000 people never sits in a
process's memory, and the people looked up last stay cached.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("an expiring cache holds at least one entry")
        self.max_entries = max_entries
        self._entries: dict[K, tuple[datetime, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> tuple[datetime, V] | None:
        """The entry and the moment it expires, expired or not (the caller may take a stale one)."""
        with self._lock:
            return self._entries.get(key)

    def fresh(self, key: K, now: datetime) -> tuple[datetime, V] | None:
        """The entry when it has not expired at `now`."""
        entry = self.get(key)
        return entry if entry is not None and entry[0] > now else None

    def put(self, key: K, value: V, until: datetime) -> None:
        """Keep `value` until `until`, making room by dropping the oldest entries written."""
        with self._lock:
            self._entries.pop(key, None)  # written again: the newest
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (until, value)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
