"""The web channel: public pages on the bot's web server (subscribe with double opt-in, unsubscribe,
erase, archive, calendar feed), their templates, static files and tables.

`routes.py` lists every route; `channel.py` is the channel as the core sees it. Pages only
translate: forms become the neutral commands of `bot.commands`, carried out through the inbox like
any chat command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.services.privacy import Traces

# What the registry (bot/entry/channels.py) knows without importing the channel and its libraries.
NAME = "web"
TEMPLATES: Path | None = Path(__file__).resolve().parent / "templates"


def erase_pending(s: Session, traces: Traces) -> None:
    """The web's part of an erasure: sign-ups still waiting for their confirmation click go (their
    links die with them); erase requests forget the address (their link then says it is done)."""
    from sqlalchemy import delete, update

    from handlers.web.models import PendingConfirmation as Pending
    from handlers.web.pending import SUBSCRIBE

    if traces.email:
        s.execute(delete(Pending).where(Pending.email == traces.email, Pending.purpose == SUBSCRIBE))
        s.execute(update(Pending).where(Pending.email == traces.email).values(email=None, name=None))


ERASE = erase_pending
