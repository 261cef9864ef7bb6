"""A session's identity in calendars: one stable UID, whatever carries it (the web feed, a mailed
.ics), so a calendar updates or cancels the same entry instead of adding another."""

from __future__ import annotations

from urllib.parse import urlsplit


def uid_host(public_base_url: str | None) -> str:
    host = urlsplit(public_base_url).hostname if public_base_url else None
    return host or "baerekraft-bot"


def session_uid(session_id: int, host: str) -> str:
    return f"session-{session_id}@{host}"
