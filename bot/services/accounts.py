"""Accounts their platform deactivated (a Slack user an admin deactivated): the identity is marked
inactive and nothing more is sent to it; the person keeps their other channels. Reactivated, it is
active again. Each change lands in the audit log, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.commands import Actor
from bot.models import Identity
from bot.services import audit


def set_identity_active(
    s: Session, actor: Actor, now: datetime, platform: str, external_id: str, *, active: bool
) -> bool:
    """Mark the identity active or not; False when it is unknown or was so already (nothing to do)."""
    identity = s.scalar(
        select(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )
    if identity is None or identity.active == active:
        return False
    identity.active = active
    audit.record_for_system(
        s,
        actor,
        now,
        "identity.reactivated" if active else "identity.deactivated",
        series_id=None,
        subject=("identity", identity.id),
        platform=platform,
    )
    return True
