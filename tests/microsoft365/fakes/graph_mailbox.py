"""The fake Graph's organiser inbox: Exchange Online's non-delivery reports for mail sent to an
address the test marks as nonexistent (`tenant.nonexistent`), put in the sender's inbox as Exchange
does; and reading it as Graph allows: the inbox's delta query (`changeType=created`, `$select`,
pages of `graph.page_size`, an expired delta token answered 410 syncStateNotFound) and a message's
MIME (`/messages/{id}/$value`, `Content-Type: message/rfc822`), both with Mail.Read."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from tests.fakes.bounce_mail import exchange_ndr
from tests.fakes.https_fake import Response, error
from tests.microsoft365.fakes.graph_tenant import InboxMail

if TYPE_CHECKING:
    from tests.microsoft365.fakes.graph_api import FakeGraph, Handled, Route

ID = r"([^/]+)"
PERMISSION = "Mail.Read"


def mailbox_routes(graph: FakeGraph) -> list[Route]:
    from tests.microsoft365.fakes.graph_api import Route

    inbox = Inbox(graph)
    return [
        Route("GET", re.compile(rf"/users/{ID}/mailFolders/inbox/messages/delta"), inbox.delta, PERMISSION),
        Route("GET", re.compile(rf"/users/{ID}/messages/{ID}/\$value"), inbox.value, PERMISSION),
    ]


def returned(graph: FakeGraph, raw: bytes, recipients: list[str]) -> None:
    """Exchange's part after sending `raw`: an NDR in the sender's inbox for each nonexistent one."""
    tenant = graph.tenant
    for address in recipients:
        if address.lower() in tenant.nonexistent:
            ndr = exchange_ndr(raw, address, organiser=tenant.organiser, when=tenant.now())
            put(graph, ndr)


def put(graph: FakeGraph, raw: bytes) -> InboxMail:
    """A message arriving in the organiser's inbox."""
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    name, address = email.utils.parseaddr(str(parsed.get("From", "")))
    with graph.tenant.lock:
        mail = InboxMail(
            id=f"AAMkAGI2{secrets.token_urlsafe(16)}=",
            seq=graph.tenant.next_seq(),
            sender=address,
            sender_name=name,
            subject=str(parsed.get("Subject", "")),
            internet_message_id=str(parsed.get("Message-ID", "")).strip(),
            raw=raw,
        )
        graph.tenant.inbox.append(mail)
    return mail


class Inbox:
    def __init__(self, graph: FakeGraph) -> None:
        self.graph, self.tenant = graph, graph.tenant

    def _mine(self, call: Handled) -> bool:
        return call.groups[0].lower() == self.tenant.organiser

    def delta(self, call: Handled) -> Response:
        if not self._mine(call):
            return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        query = call.request.query
        if query.get("changeType", "created") != "created":
            return error(400, "ErrorInvalidParameter", "only changeType=created is faked")
        since = int(query.get("$deltatoken", "0"))
        if since and since < self.graph.inbox_oldest_delta:
            return error(410, "SyncStateNotFound", "The sync state is not found or has expired.")
        with self.tenant.lock:
            upto = int(query.get("$snapshot", str(self.tenant.next_seq())))
            chosen = [m for m in self.tenant.inbox if since < m.seq <= upto]
        skip = int(query.get("$skiptoken", "0"))
        page = chosen[skip : skip + self.graph.page_size]
        wanted = [f for f in query.get("$select", "").split(",") if f]
        base = f"{self.graph.base}/users/{call.groups[0]}/mailFolders/inbox/messages/delta"
        body: dict[str, Any] = {"value": [_json(m, wanted) for m in page]}
        if skip + self.graph.page_size < len(chosen):
            rest = {k: v for k, v in query.items() if k not in ("$skiptoken", "$snapshot")}
            rest.update({"$snapshot": str(upto), "$skiptoken": str(skip + self.graph.page_size)})
            body["@odata.nextLink"] = f"{base}?{urlencode(rest, quote_via=quote)}"
        else:
            # As Graph: the options of the first request are encoded in the links it gives.
            keep = {k: v for k, v in query.items() if k in ("$select", "changeType")}
            keep["$deltatoken"] = str(upto)
            body["@odata.deltaLink"] = f"{base}?{urlencode(keep, quote_via=quote)}"
        return Response(200, body)

    def value(self, call: Handled) -> Response:
        if not self._mine(call):
            return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        with self.tenant.lock:
            found = [m for m in self.tenant.inbox if m.id == call.groups[1]]
        if not found:
            return error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return Response(200, found[0].raw, {"Content-Type": "message/rfc822"})


def _json(mail: InboxMail, wanted: list[str]) -> dict[str, Any]:
    every = {
        "@odata.type": "#microsoft.graph.message",
        "id": mail.id,
        "subject": mail.subject,
        "from": {"emailAddress": {"name": mail.sender_name, "address": mail.sender}},
        "internetMessageId": mail.internet_message_id,
    }
    return {k: v for k, v in every.items() if k in ("id", "@odata.type") or not wanted or k in wanted}
