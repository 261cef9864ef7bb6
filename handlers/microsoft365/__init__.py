"""The Microsoft 365 channel, in and out, through Microsoft Graph: sign-in (msal), a small httpx
client, the Teams meeting as the invitation, Exchange mail, Teams posts and activity-feed
notifications, commands read from Teams, its settings, templates and the Teams app (`teams_app/`).

`channel.py` is the channel as the core sees it; `service.py` builds its parts.
"""
