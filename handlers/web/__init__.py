"""The web channel: public pages on the bot's web server (subscribe with double opt-in, unsubscribe,
erase, archive, calendar feed), their templates, static files and tables.

`routes.py` lists every route; `channel.py` is the channel as the core sees it. Pages only
translate: forms become the neutral commands of `bot.commands`, carried out through the inbox like
any chat command.
"""

from pathlib import Path

# What the registry (bot/entry/channels.py) knows without importing the channel and its libraries.
NAME = "web"
TEMPLATES: Path | None = Path(__file__).resolve().parent / "templates"
