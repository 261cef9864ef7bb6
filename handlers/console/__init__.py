"""The console channel: the operator's terminal as a chat (like Errbot's text backend). Lines typed
(or piped) in become commands through the inbox, replies are printed, and what the bot would post or
mail is printed too (`baerekraft-bot shell`, and `run` without chat credentials)."""

from pathlib import Path

# What the registry (bot/entry/channels.py) knows without importing the channel and its libraries.
NAME = "console"
TEMPLATES: Path | None = None
ERASE = None  # its part of an erasure: nothing of its own: it stores no table
