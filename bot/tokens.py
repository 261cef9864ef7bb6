"""Signed tokens for links in mails and web forms, each kind with a salt of its own.

Every token is signed with SECRET_KEY (HMAC-SHA256) and carries ids or random values only, never an
e-mail address. A token made for one purpose never passes as another (the salt differs).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import quote

from itsdangerous import BadData, TimestampSigner, URLSafeSerializer

from bot.clock import Clock
from bot.settings import Settings

CONFIRM_VALID_FOR = timedelta(days=3)
UNDO_VALID_FOR = timedelta(days=1)
SALT_UNSUBSCRIBE = "baerekraft.unsubscribe.v1"
SALT_CONFIRM = "baerekraft.confirm.v1"
SALT_UNDO = "baerekraft.resubscribe.v1"
SALT_CSRF = "baerekraft.csrf.v1"


class InvalidToken(Exception):
    """A token that was tampered with, made with another key or for another purpose."""


class ExpiredToken(Exception):
    """A genuine token whose time is up; `token_hash` still names the request it was made for."""

    def __init__(self, token_hash: str | None = None) -> None:
        super().__init__("expired")
        self.token_hash = token_hash


class _ClockSigner(TimestampSigner):
    """A timestamp signer that reads the bot's clock, so tests can move time instead of waiting."""

    def __init__(self, secret_key: str, salt: str, clock: Clock) -> None:
        super().__init__(secret_key, salt=salt, digest_method=hashlib.sha256)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock.now().timestamp())


def _serializer(secret_key: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})


# --- unsubscribe: ids only, never expires (an old mail's link keeps working) ------------------------


def unsubscribe_token(secret_key: str, person_id: int, series_id: int) -> str:
    return str(_serializer(secret_key, SALT_UNSUBSCRIBE).dumps([person_id, series_id]))


def read_unsubscribe_token(secret_key: str, token: str) -> tuple[int, int]:
    """(person_id, series_id) from a token; raises InvalidToken."""
    return _ids(_loads(_serializer(secret_key, SALT_UNSUBSCRIBE), token))


def unsubscribe_url(settings: Settings, person_id: int, series_id: int) -> str | None:
    """The personal unsubscribe link for mails (List-Unsubscribe); None without PUBLIC_BASE_URL."""
    if not settings.public_base_url:
        return None
    token = unsubscribe_token(settings.secret_key, person_id, series_id)
    return f"{settings.public_base_url}/u/{token}"


def leave_url(settings: Settings, series_slug: str) -> str | None:
    """The series' leave page, for messages that cannot carry a personal link (the Exchange
    invitation goes to everyone alike); None without PUBLIC_BASE_URL."""
    if not settings.public_base_url:
        return None
    return f"{settings.public_base_url}/s/{quote(series_slug, safe='')}/leave"


def invite_url(public_base_url: str | None, series_slug: str) -> str | None:
    """The series' «invite a colleague» page, for every message to its subscribers; None without
    PUBLIC_BASE_URL."""
    if not public_base_url:
        return None
    return f"{public_base_url}/s/{quote(series_slug, safe='')}/invite"


def unsubscribe_headers(settings: Settings, person_id: int, series_id: int) -> dict[str, str]:
    """List-Unsubscribe and RFC 8058 one-click headers for a mail; empty without PUBLIC_BASE_URL."""
    url = unsubscribe_url(settings, person_id, series_id)
    if url is None:
        return {}
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


# --- confirmation links (double opt-in, erase): a signed random key, valid 3 days -------------------


def new_confirm_token(secret_key: str, clock: Clock) -> tuple[str, str]:
    """A fresh confirmation token and the hash under which its request is stored."""
    key = secrets.token_urlsafe(24)
    token = _ClockSigner(secret_key, SALT_CONFIRM, clock).sign(key).decode()
    return token, token_hash(key)


def read_confirm_token(secret_key: str, clock: Clock, token: str) -> str:
    """The stored hash the token stands for; raises InvalidToken or ExpiredToken."""
    signer = _ClockSigner(secret_key, SALT_CONFIRM, clock)
    try:
        key, signed_at = signer.unsign(token, return_timestamp=True)
    except BadData as exc:
        raise InvalidToken from exc
    stored_as = token_hash(key.decode())
    if not timedelta(0) <= clock.now() - signed_at <= CONFIRM_VALID_FOR:
        raise ExpiredToken(stored_as)
    return stored_as


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# --- undo an unsubscribe: ids, valid one day, handed out only on the result page --------------------


def undo_token(secret_key: str, clock: Clock, person_id: int, series_id: int) -> str:
    signer = _ClockSigner(secret_key, SALT_UNDO, clock)
    return signer.sign(unsubscribe_token(secret_key, person_id, series_id)).decode()


def read_undo_token(secret_key: str, clock: Clock, token: str) -> tuple[int, int]:
    signer = _ClockSigner(secret_key, SALT_UNDO, clock)
    try:
        inner, signed_at = signer.unsign(token, return_timestamp=True)
    except BadData as exc:
        raise InvalidToken from exc
    if not timedelta(0) <= clock.now() - signed_at <= UNDO_VALID_FOR:
        raise ExpiredToken
    return read_unsubscribe_token(secret_key, inner.decode())


# --- CSRF: the form field is the cookie's random value, signed -------------------------------------


def csrf_field(secret_key: str, cookie_value: str) -> str:
    return str(_serializer(secret_key, SALT_CSRF).dumps(cookie_value))


def csrf_matches(secret_key: str, cookie_value: str, field_value: str) -> bool:
    try:
        signed = _serializer(secret_key, SALT_CSRF).loads(field_value)
    except BadData:
        return False
    return isinstance(signed, str) and secrets.compare_digest(signed, cookie_value)


def _loads(serializer: URLSafeSerializer, token: str) -> object:
    try:
        return serializer.loads(token)
    except BadData as exc:
        raise InvalidToken from exc


def _ids(value: object) -> tuple[int, int]:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    ):
        return value[0], value[1]
    raise InvalidToken
