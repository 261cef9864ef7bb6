"""The delegated login's msal token cache in the database, encrypted, shared by every process.

The key is derived from SECRET_KEY with HKDF-SHA256 and used with Fernet (AES-128-CBC + HMAC-SHA256): a
changed SECRET_KEY or a tampered row cannot be read, and says so, instead of yielding garbage.

`version` rises on each save so a process reloads the cache only when another one changed it. A
problem is stored with the row, for `teams status` and /healthz: a lost login (expired or revoked,
`teams login` needed) or a transient failure of the identity provider (the bot retries by itself).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from bot.clock import Clock
from bot.db import Database
from handlers.microsoft365.models import GraphLogin

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

KEY = "delegated"
SALT = b"baerekraft-bot graph login"
INFO = b"msal token cache v1"


class UnreadableSecret(Exception):
    """Stored data that this SECRET_KEY cannot decrypt (another key, or tampering)."""


def derive_key(secret_key: str) -> bytes:
    """A Fernet key of its own for the token cache, so SECRET_KEY itself is never used twice."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


class SecretBox:
    """Fernet under the derived key, made at the first seal or open: `cryptography` (some 6 MB of a
    process) is loaded only by a bot that has a Teams login to keep."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key
        self._made: Fernet | None = None

    def _fernet(self) -> Fernet:
        if self._made is None:
            from cryptography.fernet import Fernet

            self._made = Fernet(derive_key(self._secret_key))
        return self._made

    def seal(self, plain: str) -> str:
        return self._fernet().encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet().decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise UnreadableSecret("the stored Teams login cannot be decrypted with this SECRET_KEY") from exc


@dataclass(frozen=True)
class LoginState:
    """What operators see about the login; never the tokens."""

    username: str | None
    user_id: str | None
    logged_in_at: datetime
    refreshed_at: datetime | None
    problem: str | None
    problem_at: datetime | None
    problem_transient: bool = False  # the identity provider failed for now; no new login needed


@dataclass(frozen=True)
class StoredCache:
    cache: str  # the serialized msal cache, decrypted
    version: int
    user_id: str | None


class LoginStore:
    def __init__(self, db: Database, secret_key: str, clock: Clock) -> None:
        self.db, self.clock = db, clock
        self.box = SecretBox(secret_key)

    def version(self) -> int | None:
        with self.db.read() as s:
            return s.scalar(select(GraphLogin.version).where(GraphLogin.key == KEY))

    def load(self) -> StoredCache | None:
        """The decrypted cache, or None when nobody logged in; raises UnreadableSecret."""
        with self.db.read() as s:
            row = s.get(GraphLogin, KEY)
            if row is None:
                return None
            sealed, version, user_id = row.token_cache, row.version, row.user_id
        return StoredCache(self.box.open(sealed), version, user_id)

    def state(self) -> LoginState | None:
        with self.db.read() as s:
            row = s.get(GraphLogin, KEY)
            if row is None:
                return None
            return LoginState(
                row.username,
                row.user_id,
                row.logged_in_at,
                row.refreshed_at,
                row.problem,
                row.problem_at,
                bool(row.problem_transient),
            )

    def save_login(self, cache: str, username: str | None, user_id: str | None) -> int:
        """A fresh login replaces whatever was stored; returns the new version."""
        now = self.clock.now()
        with self.db.transaction() as s:
            row = s.get(GraphLogin, KEY, with_for_update=True)
            if row is None:
                row = GraphLogin(key=KEY, token_cache="", version=0, logged_in_at=now)
                s.add(row)
            row.token_cache = self.box.seal(cache)
            row.username, row.user_id = username, user_id
            row.version, row.logged_in_at, row.refreshed_at = row.version + 1, now, now
            row.problem = row.problem_at = None
            row.problem_transient = False
            return row.version

    def save_cache(self, cache: str) -> int | None:
        """After a silent refresh: the new cache, and the problem (if any) is over."""
        now = self.clock.now()
        with self.db.transaction() as s:
            row = s.get(GraphLogin, KEY, with_for_update=True)
            if row is None:
                return None
            row.token_cache = self.box.seal(cache)
            row.version += 1
            row.refreshed_at = now
            row.problem = row.problem_at = None
            row.problem_transient = False
            return row.version

    def report_problem(self, problem: str, *, transient: bool = False) -> None:
        with self.db.transaction() as s:
            row = s.get(GraphLogin, KEY, with_for_update=True)
            if row is not None and (row.problem != problem[:300] or row.problem_transient != transient):
                if row.problem is None or row.problem_transient != transient:
                    row.problem_at = self.clock.now()  # since when: kept while the same kind goes on
                row.problem, row.problem_transient = problem[:300], transient

    def clear_problem(self) -> None:
        """The login works again (a token came without a refresh that would have cleared it)."""
        with self.db.transaction() as s:
            row = s.get(GraphLogin, KEY, with_for_update=True)
            if row is not None and row.problem is not None:
                row.problem = row.problem_at = None
                row.problem_transient = False

    def forget(self) -> bool:
        with self.db.transaction() as s:
            return bool(getattr(s.execute(delete(GraphLogin).where(GraphLogin.key == KEY)), "rowcount", 0))
