"""The OAuth scopes Slack requires of a bot token, per Web API method and per event, from Slack's
method and event docs (docs.slack.dev/reference/methods/<method>, "Scopes: Bot token").

Where the kind of conversation decides the scope (conversations.history needs `channels:history` in a
public channel, `im:history` in a DM...), the method maps each kind to its scope. A method without an
entry is unknown to the fake; `None` means no scope is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[3] / "handlers" / "slack" / "manifest.yml"

# The kinds of conversation (Slack's conversation types).
PUBLIC, PRIVATE, IM, MPIM = "public", "private", "im", "mpim"
KINDS = (PUBLIC, PRIVATE, IM, MPIM)

ByKind = dict[str, str]
_HISTORY: ByKind = {
    PUBLIC: "channels:history",
    PRIVATE: "groups:history",
    IM: "im:history",
    MPIM: "mpim:history",
}

METHOD_SCOPES: dict[str, str | ByKind | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "conversations.history": _HISTORY,
    "conversations.replies": _HISTORY,
    "conversations.open": {IM: "im:write", MPIM: "mpim:write"},
    "conversations.join": "channels:join",
    "users.info": "users:read",
    "users.list": "users:read",
    "views.publish": None,
    "views.open": None,
    "views.update": None,
}

# Events a bot subscribes to (manifest `bot_events`) and the scope each needs.
EVENT_SCOPES: dict[str, str | None] = {
    "app_home_opened": None,
    "user_change": "users:read",
}

# Not a scope a method requires, but what it adds: chat.postMessage in a public channel the bot is
# not a member of; users.info's and users.list's `profile.email`.
POST_WITHOUT_JOINING = "chat:write.public"
READ_EMAIL = "users:read.email"


def manifest_bot_scopes(path: Path = MANIFEST) -> frozenset[str]:
    """The bot scopes the app manifest asks for (`oauth_config.scopes.bot`)."""
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def manifest_bot_events(path: Path = MANIFEST) -> list[str]:
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(manifest["settings"]["event_subscriptions"]["bot_events"])


def scope_for(method: str, kind: str | None = None) -> str | None:
    """The scope `method` needs (in a conversation of `kind`, where the kind decides it)."""
    needed = METHOD_SCOPES[method]
    if isinstance(needed, dict):
        return needed.get(kind or "")
    return needed


def scopes_for(method: str, kinds: Iterable[str] = KINDS) -> set[str]:
    """Every scope `method` may need in conversations of `kinds`."""
    needed = METHOD_SCOPES[method]
    if isinstance(needed, dict):
        return {needed[kind] for kind in kinds if kind in needed}
    return {needed} if needed else set()
