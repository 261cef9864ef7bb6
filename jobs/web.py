"""Upkeep for the web pages: expired confirmation requests leave the database with their addresses."""

from __future__ import annotations

from bot.app import App
from bot.webpages.pending import purge_expired


def purge_expired_confirmations(app: App) -> int:
    return purge_expired(app)
