"""A refusal the user should read: a reply key and its data, never a traceback."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Raised inside a transaction to roll it back and answer with the reply template `key`."""

    def __init__(self, key: str, **data: Any) -> None:
        super().__init__(key)
        self.key = key
        self.data = data
