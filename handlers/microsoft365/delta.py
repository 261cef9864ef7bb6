"""Reading Teams without a public URL: the channel by delta query, the replies in its threads
(which the delta never returns) with the newest threads, the 1:1 chats by their newest messages.
Both remember where they left off in `graph_cursor`; messages from before the bot started watching
are never carried out, and the once-only key makes a repeat (or one also notified) harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.db import Database
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.directory import Directory
from handlers.microsoft365.errors import GraphError
from handlers.microsoft365.inbound import InboundCommands
from handlers.microsoft365.models import GraphCursor
from handlers.microsoft365.teams import CHATS, READ_CHANNEL, TeamsApi
from handlers.microsoft365.thread_replies import recent_replies

log = logging.getLogger(__name__)

RESYNC_CODES = ("resyncrequired", "syncstatenotfound", "syncstateinvalid")


# Chat messages are asked for from a little before the watermark: a repeat is harmless, a gap is not.
OVERLAP = timedelta(seconds=5)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _senders(messages: list[dict[str, Any]]) -> list[str]:
    return [str(((m.get("from") or {}).get("user") or {}).get("id") or "") for m in messages]


@dataclass(frozen=True)
class Cursor:
    value: str | None
    watching_since: datetime
    updated_at: datetime  # the last successful read


class Cursors:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    def get(self, name: str) -> Cursor | None:
        with self.db.read() as s:
            row = s.get(GraphCursor, name)
            return Cursor(row.value, row.watching_since, row.updated_at) if row else None

    def put(self, name: str, value: str | None, watching_since: datetime) -> None:
        now = self.clock.now()
        with self.db.transaction() as s:
            row = s.get(GraphCursor, name, with_for_update=True)
            if row is None:
                s.add(GraphCursor(name=name, value=value, watching_since=watching_since, updated_at=now))
            else:
                row.value, row.watching_since, row.updated_at = value, watching_since, now

    def expire(self, name: str) -> None:
        """The stored link no longer works: read afresh from the last successful read next time."""
        with self.db.transaction() as s:
            row = s.get(GraphCursor, name, with_for_update=True)
            if row is not None:
                row.value = None


class ChannelDelta:
    def __init__(
        self,
        client: GraphClient,
        teams: TeamsApi,
        cursors: Cursors,
        inbound: InboundCommands,
        directory: Directory,
    ) -> None:
        self.client, self.teams, self.cursors = client, teams, cursors
        self.inbound, self.directory = inbound, directory
        settings = teams.settings
        self.name = f"channel:{settings.team_id}:{settings.channel_id}"

    def poll(self) -> int:
        """Follow the delta from the stored link; returns how many commands were carried out."""
        if not self.teams.has_channel:
            return 0
        cursor = self.cursors.get(self.name)
        now = self.client.clock.now()
        watching_since = cursor.watching_since if cursor else now
        if cursor is None or cursor.value is None:
            # From a little before the last good read (or now, the first time): nothing falls in a gap.
            since = (cursor.updated_at if cursor else now) - timedelta(minutes=1)
            start = f"{self.teams.channel_path}/messages/delta?$filter=lastModifiedDateTime gt {_iso(since)}"
        else:
            start = cursor.value
        try:
            messages, delta_link = self._read(start)
        except GraphError as exc:
            if exc.status == 410 or any(code in (exc.code or "").lower() for code in RESYNC_CODES):
                log.warning("Teams: the channel's delta link expired; reading afresh from the last good read")
                self.cursors.expire(self.name)
                return 0
            raise
        if cursor:  # replies since a little before the last good read (clocks differ)
            since = max(watching_since, cursor.updated_at - timedelta(minutes=1))
            messages += recent_replies(self.client, self.teams.channel_path, since)
        self.directory.prefetch(_senders(messages))
        done = sum(self.inbound.handle(m, since=watching_since) for m in messages) if cursor else 0
        self.cursors.put(self.name, delta_link or start, watching_since)
        return done

    def _read(self, start: str) -> tuple[list[dict[str, Any]], str | None]:
        messages: list[dict[str, Any]] = []
        delta_link: str | None = None
        for page in self.client.pages(start, auth=Auth.USER, permission=READ_CHANNEL):
            messages += [m for m in page.get("value", []) if isinstance(m, dict)]
            delta_link = page.get("@odata.deltaLink") or delta_link
        return messages, delta_link


class ChatPoller:
    """1:1 chats: the chats with a message newer than the watermark, then those messages."""

    def __init__(
        self,
        client: GraphClient,
        cursors: Cursors,
        inbound: InboundCommands,
        self_id: Callable[[], str | None],
    ) -> None:
        self.client, self.cursors, self.inbound, self.self_id = client, cursors, inbound, self_id

    def poll(self) -> int:
        me = self.self_id()
        if me is None:
            return 0
        name, clock = f"chats:{me}", self.client.clock
        cursor = self.cursors.get(name)
        now = clock.now()
        if cursor is None or cursor.value is None:
            self.cursors.put(name, _iso(now), now)
            return 0
        watermark = datetime.fromisoformat(cursor.value.replace("Z", "+00:00"))
        newest, done = watermark, 0
        for chat_id, last in self._active_chats(watermark):
            newest = max(newest, last)
            done += sum(
                self.inbound.handle(m, since=cursor.watching_since)
                for m in self._messages(chat_id, watermark - OVERLAP)
            )
        self.cursors.put(name, _iso(newest), cursor.watching_since)
        return done

    def _active_chats(self, watermark: datetime) -> list[tuple[str, datetime]]:
        found: list[tuple[str, datetime]] = []
        params = {"$expand": "lastMessagePreview", "$orderby": "lastMessagePreview/createdDateTime desc"}
        for chat in self.client.items("/me/chats", auth=Auth.USER, permission=CHATS, params=params):
            preview = chat.get("lastMessagePreview") or {}
            created = preview.get("createdDateTime")
            if not isinstance(created, str):
                continue
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
            if when <= watermark:
                break  # newest first: the rest are older
            if chat.get("chatType") == "oneOnOne":
                found.append((str(chat["id"]), when))
        return found

    def _messages(self, chat_id: str, watermark: datetime) -> list[dict[str, Any]]:
        params = {
            "$top": "50",
            "$orderby": "lastModifiedDateTime desc",
            "$filter": f"lastModifiedDateTime gt {_iso(watermark)}",
        }
        path = f"/chats/{segment(chat_id)}/messages"
        messages = list(self.client.items(path, auth=Auth.USER, permission=CHATS, params=params))
        for message in messages:
            message.setdefault("chatId", chat_id)
        return sorted(messages, key=lambda m: str(m.get("createdDateTime") or ""))
