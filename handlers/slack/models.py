"""The Slack channel's own table: whose App Home is seen, so it is kept up to date after their
commands (`home_publisher.py`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base


class SlackHome(Base):
    """A Slack user who opened the bot's App Home tab (or acted on it): their Home is published again
    after each of their commands. Others get it fresh when they open the tab. Erased with the person."""

    __tablename__ = "slack_home"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opened_at: Mapped[datetime]  # when that was first seen
