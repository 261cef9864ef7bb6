"""Upkeep for the web pages: expired confirmation requests leave the database with their addresses."""

from __future__ import annotations

from bot.core import Core
from handlers.web.pending import purge_expired


def purge_expired_confirmations(core: Core) -> int:
    return purge_expired(core)
