"""How many mails the web forms may send, per address and per client, counted in the database so
the limit holds across processes. Buckets hold keyed hashes, never an address or an IP in clear.

Two processes checking at the same instant can each let one more through; the limit is a guard
against abuse, not an exact quota.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from sqlalchemy import delete, func, select

from bot.core import Core
from bot.services.people import normalise_email
from handlers.web.models import RateLimitHit
from handlers.web.settings import WebSettings

WINDOW = timedelta(hours=1)


def address_bucket(secret_key: str, email: str) -> str:
    return "address:" + _keyed(secret_key, normalise_email(email))


def client_bucket(secret_key: str, client: str) -> str:
    return "client:" + _keyed(secret_key, client)


def allow_mail(core: Core, limits: WebSettings, email: str, client: str) -> bool:
    """Count one mail to `email` asked for by `client`; False (and nothing counted) when over a limit."""
    secret = core.settings.secret_key
    buckets = (
        (address_bucket(secret, email), limits.mails_per_address_per_hour),
        (client_bucket(secret, client), limits.mails_per_client_per_hour),
    )
    now = core.clock.now()
    with core.db.transaction() as s:
        s.execute(delete(RateLimitHit).where(RateLimitHit.at <= now - WINDOW))
        for bucket, limit in buckets:
            used = s.scalar(
                select(func.count())
                .select_from(RateLimitHit)
                .where(RateLimitHit.bucket == bucket, RateLimitHit.at > now - WINDOW)
            )
            if (used or 0) >= limit:
                return False
        s.add_all(RateLimitHit(bucket=bucket, at=now) for bucket, _ in buckets)
    return True


def _keyed(secret_key: str, value: str) -> str:
    digest = hmac.new(secret_key.encode(), b"rate-limit:" + value.encode(), hashlib.sha256)
    return digest.hexdigest()[:40]
