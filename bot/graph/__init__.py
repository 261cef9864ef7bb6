"""Microsoft 365 through Microsoft Graph: sign-in (msal), a small httpx client, the Teams meeting as
the invitation, mail, Teams posts and activity-feed notifications, and commands read from Teams.

`handlers/teams.py` wires it into the bot; nothing else in `bot/` depends on this package.
"""
