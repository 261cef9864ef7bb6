"""The Slack channel, in and out: the Bolt app (HTTP mode or Socket Mode) and its listeners, the
inbox work behind each ack, identity, App Home, organiser modals, Block Kit posts and the sender,
its settings (`settings.py`), templates (`templates/`) and app manifest (`manifest.yml`).

`channel.py` is the channel as the core sees it; everything here only translates between Slack and
the core (`bot.dispatch`), which alone changes state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.services.privacy import Traces

# What the registry (bot/entry/channels.py) knows without importing the channel and its libraries.
NAME = "slack"
TEMPLATES: Path | None = Path(__file__).resolve().parent / "templates"


def erase_homes(s: Session, traces: Traces) -> None:
    """The Slack channel's part of an erasure: that the person's App Home is seen (its people and
    messages are in the core's tables)."""
    from sqlalchemy import delete

    from handlers.slack.models import SlackHome

    ids = [external_id for platform, external_id in traces.identities if platform == NAME]
    if ids:
        s.execute(delete(SlackHome).where(SlackHome.user_id.in_(ids)))


ERASE = erase_homes
