"""Change-notification subscriptions for the channel and the service account's chats, when the bot
has a public https address (PUBLIC_BASE_URL): created, renewed well before they expire (chat messages
allow an hour), made again when Graph removes one, reauthorized when asked. Polling goes on anyway.

Graph sends notifications only to https URLs; with an http PUBLIC_BASE_URL no subscription is tried
(it would fail every minute): that is logged once and shown by `teams status`, and polling reads Teams.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.clock import Clock
from bot.db import Database
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.errors import GraphError, GraphNotFound
from handlers.microsoft365.models import GraphSubscription
from handlers.microsoft365.notifications import PATH
from handlers.microsoft365.teams import CHATS, READ_CHANNEL, TeamsApi

log = logging.getLogger(__name__)

LIFETIME = timedelta(minutes=55)
RENEW_BEFORE = timedelta(minutes=15)


def _expiry(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class SubscriptionManager:
    def __init__(
        self,
        client: GraphClient,
        db: Database,
        clock: Clock,
        teams: TeamsApi,
        public_base_url: str | None,
        secret: str,
        self_id: Callable[[], str | None],
        poll_now: Callable[[], object],
    ) -> None:
        self.client, self.db, self.clock, self.teams = client, db, clock, teams
        https = bool(public_base_url) and str(public_base_url).lower().startswith("https://")
        self.url = f"{public_base_url}{PATH}" if https else None
        # Why there are no subscriptions, for `teams status` (None: there may be).
        self.off_reason: str | None = None
        if not public_base_url:
            self.off_reason = "PUBLIC_BASE_URL not set: polling only"
        elif not https:
            self.off_reason = "PUBLIC_BASE_URL is not https (Graph requires it): polling only"
        self._refusal_logged = False
        self.secret, self.self_id, self.poll_now = secret, self_id, poll_now

    def desired(self) -> list[str]:
        resources = [f"{self.teams.channel_path}/messages"] if self.teams.has_channel else []
        me = self.self_id()
        if me:
            resources.append(f"/users/{segment(me)}/chats/getAllMessages")
        return resources

    def tick(self) -> None:
        """Create what is missing and renew what expires soon."""
        if self.url is None:
            if self.off_reason and not self._refusal_logged and "https" in self.off_reason:
                self._refusal_logged = True
                log.warning("Teams change notifications: %s; Teams is read by polling", self.off_reason)
            return
        now = self.clock.now()
        with self.db.read() as s:
            held = {row.resource: (row.id, row.expires_at) for row in s.scalars(select(GraphSubscription))}
        for resource in self.desired():
            current = held.get(resource)
            if current is not None and current[1] - now > RENEW_BEFORE:
                continue
            if current is not None and self._renew(current[0], now):
                continue
            self._create(resource, now)

    def on_lifecycle(self, items: Sequence[dict[str, Any]]) -> None:
        for item in items:
            event, sub_id = item.get("lifecycleEvent"), str(item.get("subscriptionId") or "")
            log.info("Graph lifecycle notification %s for subscription %s", event, sub_id)
            if event == "subscriptionRemoved":
                self._forget(sub_id)
            elif event == "reauthorizationRequired":
                self._reauthorize(sub_id)
            elif event == "missed":
                self.poll_now()
        self.tick()

    def _create(self, resource: str, now: datetime) -> None:
        body = {
            "changeType": "created",
            "notificationUrl": self.url,
            "lifecycleNotificationUrl": self.url,
            "resource": resource,
            "expirationDateTime": _expiry(now + LIFETIME),
            "clientState": self.secret,
            "includeResourceData": False,
        }
        permission = CHATS if "/chats/" in resource else READ_CHANNEL
        created = self.client.call(
            "POST", "/subscriptions", auth=Auth.USER, permission=permission, json=body
        ).object()
        with self.db.transaction() as s:
            for old in s.scalars(select(GraphSubscription).where(GraphSubscription.resource == resource)):
                s.delete(old)
            s.add(
                GraphSubscription(
                    id=str(created["id"]), resource=resource, expires_at=now + LIFETIME, created_at=now
                )
            )
        log.info("Graph: subscribed to %s", resource)

    def _renew(self, sub_id: str, now: datetime) -> bool:
        try:
            self.client.call(
                "PATCH",
                f"/subscriptions/{segment(sub_id)}",
                auth=Auth.USER,
                permission=READ_CHANNEL,
                json={"expirationDateTime": _expiry(now + LIFETIME)},
            )
        except GraphNotFound:
            self._forget(sub_id)
            return False
        with self.db.transaction() as s:
            row = s.get(GraphSubscription, sub_id)
            if row is not None:
                row.expires_at = now + LIFETIME
        return True

    def _reauthorize(self, sub_id: str) -> None:
        try:
            self.client.call(
                "POST",
                f"/subscriptions/{segment(sub_id)}/reauthorize",
                auth=Auth.USER,
                permission=READ_CHANNEL,
            )
        except GraphError as exc:
            log.warning("Graph: reauthorizing subscription %s failed (%s); it is made again", sub_id, exc)
            self._forget(sub_id)

    def _forget(self, sub_id: str) -> None:
        with self.db.transaction() as s:
            row = s.get(GraphSubscription, sub_id)
            if row is not None:
                s.delete(row)
