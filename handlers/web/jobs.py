"""Upkeep for the web pages: expired confirmation requests leave the database with their addresses,
the confirmation mails that went out leave the outbox with their links, and the dashboard's spent
sign-in links and ended sessions go."""

from __future__ import annotations

from datetime import timedelta

from bot.core import Core
from bot.delivery import kinds
from bot.delivery.fanouts import forget_finished
from handlers.web.admin.access import purge_ended
from handlers.web.pending import purge_expired

KEEP_SENT_MAILS = timedelta(hours=1)  # long enough to look at a failure, short for the link it holds


def purge_expired_confirmations(core: Core) -> int:
    with core.db.transaction() as s:
        forget_finished(s, kinds.CONFIRMATION, core.clock.now() - KEEP_SENT_MAILS)
        purge_ended(s, core.clock.now())
    return purge_expired(core)
