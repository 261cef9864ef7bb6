"""Who wrote to the bot in Teams: the directory's name, address and language for an Entra user id.

The address comes from the organisation's directory, so it is vouched for: a Teams user is the same
person as their mail subscription. Lookups are cached for an hour and fetched in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.commands import Actor
from bot.expiring import ExpiringCache
from bot.languages import from_tag
from handlers.microsoft365.batch import BatchRequest, batch
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.errors import GraphError, LoginNeeded

log = logging.getLogger(__name__)

PERMISSION = "User.Read.All"
TTL = timedelta(hours=1)
MAX_ENTRIES = 5000  # people kept (bot/expiring.py): the oldest answer goes first
SELECT = "id,displayName,mail,preferredLanguage"


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    name: str | None
    email: str | None
    language: str | None


def language_of(preferred: str | None) -> str | None:
    """The bot's language for a directory language tag (nb-NO, no → nb; nn-NO → nn; da-DK → da)."""
    return from_tag(preferred)


def _user(body: object) -> DirectoryUser | None:
    if not isinstance(body, dict) or not body.get("id"):
        return None
    mail = body.get("mail")
    return DirectoryUser(
        str(body["id"]),
        body.get("displayName"),
        mail.strip().lower() if isinstance(mail, str) and "@" in mail else None,
        language_of(body.get("preferredLanguage")),
    )


class Directory:
    def __init__(self, client: GraphClient, clock: Clock) -> None:
        self.client, self.clock = client, clock
        self._cache: ExpiringCache[str, DirectoryUser | None] = ExpiringCache(MAX_ENTRIES)

    def prefetch(self, user_ids: Iterable[str]) -> None:
        """Look several users up in one `$batch` round trip."""
        now = self.clock.now()
        wanted = sorted({u for u in user_ids if u and self._cache.fresh(u, now) is None})
        if len(wanted) < 2:
            return
        requests = [
            BatchRequest(str(i), "GET", f"/users/{segment(u)}?$select={SELECT}") for i, u in enumerate(wanted)
        ]
        try:
            results = batch(self.client, requests, auth=Auth.APP, permission=PERMISSION)
        except (GraphError, LoginNeeded) as exc:
            log.warning("Teams: directory lookup failed: %s", exc)
            return
        for i, user_id in enumerate(wanted):
            result = results.get(str(i))
            if result is not None and (result.ok or result.status == 404):
                self._cache.put(user_id, _user(result.body) if result.ok else None, now + TTL)

    def user(self, user_id: str) -> DirectoryUser | None:
        now = self.clock.now()
        if (cached := self._cache.fresh(user_id, now)) is not None:
            return cached[1]
        try:
            body = self.client.call(
                "GET",
                f"/users/{segment(user_id)}",
                auth=Auth.APP,
                permission=PERMISSION,
                params={"$select": SELECT},
            ).object()
        except GraphError as exc:
            log.warning("Teams: directory lookup failed: %s", exc)
            return None
        found = _user(body)
        self._cache.put(user_id, found, now + TTL)
        return found

    def actor(self, user_id: str, name: str | None) -> Actor:
        """The Teams user as the core sees them; the address only when the directory has one."""
        found = self.user(user_id)
        if found is None:
            return Actor("teams", user_id, name=name)
        return Actor("teams", user_id, email=found.email, name=found.name or name, language=found.language)
