"""The Slack channel, in and out: the Bolt app (HTTP mode or Socket Mode) and its listeners, the
inbox work behind each ack, identity, App Home, organiser modals, Block Kit posts and the sender,
its settings (`settings.py`), templates (`templates/`) and app manifest (`manifest.yml`).

`channel.py` is the channel as the core sees it; everything here only translates between Slack and
the core (`bot.dispatch`), which alone changes state.
"""

from pathlib import Path

# What the registry (bot/entry/channels.py) knows without importing the channel and its libraries.
NAME = "slack"
TEMPLATES: Path | None = Path(__file__).resolve().parent / "templates"
ERASE = None  # its part of an erasure: its people and messages are in the core's tables
