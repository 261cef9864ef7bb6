"""Change notifications to commands: each names a message; they are fetched in one `$batch` (as the
service account) and handed to the inbound path. Only resources in the network's channel or in the
service account's chats are read, whatever a notification says."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from handlers.microsoft365.batch import BatchRequest, batch
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.directory import Directory
from handlers.microsoft365.errors import GraphError, LoginNeeded
from handlers.microsoft365.inbound import InboundCommands
from handlers.microsoft365.settings import MicrosoftSettings
from handlers.microsoft365.teams import READ_CHANNEL

log = logging.getLogger(__name__)

ID = r"([\w:@.\-]+)"
CHANNEL_MESSAGE = re.compile(
    rf"^/?teams\('{ID}'\)/channels\('{ID}'\)/messages\('{ID}'\)(?:/replies\('{ID}'\))?$", re.IGNORECASE
)
CHAT_MESSAGE = re.compile(rf"^/?chats\('{ID}'\)/messages\('{ID}'\)$", re.IGNORECASE)


def message_path(resource: str, settings: MicrosoftSettings) -> tuple[str, str | None] | None:
    """(path to GET, chat id) for a notified message we may read, else None."""
    found = CHANNEL_MESSAGE.match(resource)
    if found:
        team, channel, message, reply = found.groups()
        if team != settings.team_id or channel != settings.channel_id:
            return None
        path = f"/teams/{segment(team)}/channels/{segment(channel)}/messages/{segment(message)}"
        return (f"{path}/replies/{segment(reply)}" if reply else path), None
    found = CHAT_MESSAGE.match(resource)
    if found:
        chat, message = found.groups()
        return f"/chats/{segment(chat)}/messages/{segment(message)}", chat
    return None


class ChangeHandler:
    def __init__(
        self, client: GraphClient, inbound: InboundCommands, directory: Directory, settings: MicrosoftSettings
    ) -> None:
        self.client, self.inbound, self.directory, self.settings = client, inbound, directory, settings

    def __call__(self, items: Sequence[dict[str, Any]]) -> None:
        wanted: dict[str, str | None] = {}
        for item in items:
            if item.get("changeType", "created") not in ("created", "updated"):
                continue
            found = message_path(str(item.get("resource") or ""), self.settings)
            if found is None:
                log.warning("Graph notification for a resource the bot does not read: ignored")
                continue
            wanted[found[0]] = found[1]
        if not wanted:
            return
        requests = [BatchRequest(str(i), "GET", path) for i, path in enumerate(wanted)]
        try:
            results = batch(self.client, requests, auth=Auth.USER, permission=READ_CHANNEL)
        except (GraphError, LoginNeeded) as exc:
            log.warning("Teams: notified messages could not be read (%s); the next poll finds them", exc)
            return
        messages: list[dict[str, Any]] = []
        for i, chat_id in enumerate(wanted.values()):
            result = results.get(str(i))
            if result is None or not result.ok or not isinstance(result.body, dict):
                continue
            if chat_id is not None:
                result.body.setdefault("chatId", chat_id)
            messages.append(result.body)
        self.directory.prefetch(
            str(((m.get("from") or {}).get("user") or {}).get("id") or "") for m in messages
        )
        for message in messages:
            self.inbound.handle(message)
