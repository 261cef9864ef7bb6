"""Replies in the channel's threads: a command typed as a reply ("!baerekraft meld på" under the
invitation post) is never in the channel's delta, which holds root messages only (Graph's docs).

Each poll lists the newest threads with their replies in one request (`$expand=replies`: at most
50 threads a page, up to 1000 replies each, the rest behind `replies@odata.nextLink`). Every reply
goes through the one inbound path, so one already carried out (or announced by a change
notification) is not carried out again, and replies older than the bot's watch are ignored.
A reply in a thread older than the 50 newest is read only by change notifications.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from handlers.microsoft365.client import Auth, GraphClient
from handlers.microsoft365.teams import READ_CHANNEL

THREADS = 50  # the most threads Graph returns in one page of the listing


def recent_replies(client: GraphClient, channel_path: str, since: datetime) -> list[dict[str, Any]]:
    """The replies written since `since` in the channel's newest threads, oldest thread first (the
    older ones were read before: no directory look-up for their writers)."""
    params = {"$top": str(THREADS), "$expand": "replies"}
    page = client.call(
        "GET", f"{channel_path}/messages", auth=Auth.USER, permission=READ_CHANNEL, params=params
    )
    found: list[dict[str, Any]] = []
    for thread in reversed([t for t in page.object().get("value", []) if isinstance(t, dict)]):
        found += [r for r in thread.get("replies") or [] if isinstance(r, dict)]
        more = thread.get("replies@odata.nextLink")
        if isinstance(more, str):
            found += client.items(more, auth=Auth.USER, permission=READ_CHANNEL)
    return [reply for reply in found if _written(reply) >= since]


def _written(reply: dict[str, Any]) -> datetime:
    raw = str(reply.get("createdDateTime") or "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # unknown: the inbound path judges it
