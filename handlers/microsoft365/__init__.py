"""The Microsoft 365 channel, in and out, through Microsoft Graph: sign-in (msal), a small httpx
client, the Teams meeting as the invitation, Exchange mail, Teams posts and activity-feed
notifications, commands read from Teams, its settings, templates and the Teams app (`teams_app/`).

`channel.py` is the channel as the core sees it; `service.py` builds its parts.
"""

from pathlib import Path

# What the registry (bot/entry/channels.py) knows without importing the channel and its libraries.
NAME = "microsoft365"
TEMPLATES: Path | None = Path(__file__).resolve().parent / "templates"
# Its senders' names (mail_sender, teams_sender), under which its templates are found too.
SENDERS = ("email", "teams")
ERASE = None  # its part of an erasure: none (its tables hold person ids, not their data)
