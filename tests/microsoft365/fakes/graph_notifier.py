"""The fake Graph's change notifications: subscriptions (the notification URL is validated the way
Graph does it, by POSTing a validationToken and expecting it back as text/plain within 10 s), and a
notification POSTed to the bot for every new message a subscription covers, with its clientState.
Tests can also send lifecycle events, repeat a notification, or send one with a wrong clientState."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from tests.fakes.https_fake import Response, error
from tests.microsoft365.fakes.graph_tenant import Message, stamp

if TYPE_CHECKING:
    from tests.microsoft365.fakes.graph_api import FakeGraph, Handled, Route

VALIDATION_LIMIT = 10.0
READ = "ChannelMessage.Read.All"


@dataclass
class Subscription:
    id: str
    resource: str
    url: str
    lifecycle_url: str | None
    client_state: str
    expires: datetime
    renewals: int = 0


@dataclass(frozen=True)
class Delivered:
    subscription_id: str
    status: int
    seconds: float
    body: dict[str, Any] = field(hash=False)


class Notifier:
    def __init__(self, graph: FakeGraph) -> None:
        self.graph = graph
        self.subscriptions: dict[str, Subscription] = {}
        self.delivered: list[Delivered] = []
        self.validations: list[tuple[str, bool]] = []
        self.oldest_delta = 0
        self.enabled = True

    def routes(self) -> list[Route]:
        from tests.microsoft365.fakes.graph_api import Route

        return [
            Route("POST", re.compile("/subscriptions"), self.create, None, READ),
            Route("PATCH", re.compile(r"/subscriptions/([^/]+)"), self.renew, None, READ),
            Route("DELETE", re.compile(r"/subscriptions/([^/]+)"), self.delete, None, READ),
            Route("POST", re.compile(r"/subscriptions/([^/]+)/reauthorize"), self.reauthorize, None, READ),
        ]

    # --- endpoints ----------------------------------------------------------------------------

    def create(self, call: Handled) -> Response:
        body = call.json()
        expires = datetime.fromisoformat(body["expirationDateTime"].replace("Z", "+00:00"))
        limit = timedelta(days=3) if body.get("lifecycleNotificationUrl") else timedelta(minutes=60)
        now = self.graph.tenant.now()
        if not now < expires <= now + limit:
            return error(400, "ExtensionError", "expirationDateTime out of range for chatMessage")
        for url in filter(None, (body.get("notificationUrl"), body.get("lifecycleNotificationUrl"))):
            if not url.startswith("https://"):  # as Graph: no notifications over plain http
                return error(400, "ValidationError", "NotificationUrl must use https.")
            if not self._validate(url):
                return error(400, "ValidationError", "Subscription validation request failed.")
        sub = Subscription(
            secrets.token_hex(8),
            body["resource"],
            body["notificationUrl"],
            body.get("lifecycleNotificationUrl"),
            body.get("clientState", ""),
            expires,
        )
        self.subscriptions[sub.id] = sub
        return Response(201, {"id": sub.id, "resource": sub.resource, "expirationDateTime": stamp(expires)})

    def renew(self, call: Handled) -> Response:
        sub = self.subscriptions.get(call.groups[0])
        if sub is None:
            return error(404, "ResourceNotFound")
        sub.expires = datetime.fromisoformat(call.json()["expirationDateTime"].replace("Z", "+00:00"))
        sub.renewals += 1
        return Response(200, {"id": sub.id, "expirationDateTime": stamp(sub.expires)})

    def delete(self, call: Handled) -> Response:
        return (
            Response(204) if self.subscriptions.pop(call.groups[0], None) else error(404, "ResourceNotFound")
        )

    def reauthorize(self, call: Handled) -> Response:
        return Response(200) if call.groups[0] in self.subscriptions else error(404, "ResourceNotFound")

    # --- sending to the bot -----------------------------------------------------------------------

    def _validate(self, url: str) -> bool:
        token = f"Validation: {secrets.token_hex(6)} & more"
        try:
            answer = httpx.post(url, params={"validationToken": token}, timeout=VALIDATION_LIMIT)
            ok = (
                answer.status_code == 200
                and answer.headers.get("content-type", "").startswith("text/plain")
                and answer.text == token
            )
        except httpx.HTTPError:
            ok = False
        self.validations.append((url, ok))
        return ok

    def covers(self, sub: Subscription, message: Message) -> bool:
        tenant = self.graph.tenant
        if message.channel is not None:
            return sub.resource.lstrip("/") == f"teams/{tenant.team_id}/channels/{tenant.channel_id}/messages"
        found = re.fullmatch(r"/?users/([^/]+)/chats/getAllMessages", sub.resource)
        chat = tenant.chats.get(message.chat_id or "")
        return bool(found and chat and found.group(1) in chat.members)

    def created(self, message: Message) -> None:
        """A new message: notify every subscription that covers it (synchronously, in order)."""
        if not self.enabled:
            return
        for sub in list(self.subscriptions.values()):
            if self.covers(sub, message):
                self.send(sub, [self.item(sub, message)])

    def item(self, sub: Subscription, message: Message, client_state: str | None = None) -> dict[str, Any]:
        return {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": stamp(sub.expires),
            "changeType": "created",
            "clientState": sub.client_state if client_state is None else client_state,
            "resource": message.resource(),
            "resourceData": {"id": message.id, "@odata.type": "#Microsoft.Graph.chatMessage"},
            "tenantId": "tenant-0001",
        }

    def lifecycle(self, sub_id: str, event: str) -> Delivered:
        sub = self.subscriptions[sub_id]
        if event == "subscriptionRemoved":
            self.subscriptions.pop(sub_id)
        item = {"subscriptionId": sub.id, "lifecycleEvent": event, "clientState": sub.client_state}
        return self.send(sub, [item], url=sub.lifecycle_url or sub.url)

    def send(self, sub: Subscription, items: list[dict[str, Any]], url: str | None = None) -> Delivered:
        body = {"value": items}
        started = time.monotonic()
        try:
            status = httpx.post(url or sub.url, json=body, timeout=10).status_code
        except httpx.HTTPError:
            status = 0
        delivered = Delivered(sub.id, status, time.monotonic() - started, body)
        self.delivered.append(delivered)
        return delivered

    def expire_delta_tokens(self) -> None:
        self.oldest_delta = self.graph.tenant.next_seq()
