"""The fake Graph's Teams side: channel posts and replies, chat messages (posting needs a delegated
token, as in real Teams), the channel's delta query with next and delta links, the signed-in
user's chats with their last message, single messages, and activity-feed notifications."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from tests.fakes.https_fake import Response, error
from tests.microsoft365.fakes.graph_tenant import Message, stamp

if TYPE_CHECKING:
    from tests.microsoft365.fakes.graph_api import FakeGraph, Handled, Route

ID = r"([^/]+)"
SEND, READ, CHATS = "ChannelMessage.Send", "ChannelMessage.Read.All", "Chat.ReadWrite"


def teams_routes(graph: FakeGraph) -> list[Route]:
    from tests.microsoft365.fakes.graph_api import Route

    def r(method: str, path: str, handler: Any, app: str | None, user: str | None) -> Route:
        return Route(method, re.compile(path), handler, app, user)

    t = Teams(graph)
    channel = rf"/teams/{ID}/channels/{ID}/messages"
    return [
        r("GET", rf"{channel}/delta", t.delta, None, READ),
        r("POST", channel, t.post_channel, None, SEND),
        r("GET", channel, t.list_channel, None, READ),
        r("GET", rf"{channel}/{ID}", t.get_channel_message, None, READ),
        r("POST", rf"{channel}/{ID}/replies", t.reply, None, SEND),
        r("GET", rf"{channel}/{ID}/replies/{ID}", t.get_reply, None, READ),
        r("GET", "/me/chats", t.my_chats, None, CHATS),
        r("GET", rf"/chats/{ID}", t.get_chat, None, CHATS),
        r("GET", rf"/chats/{ID}/messages", t.list_chat, None, CHATS),
        r("POST", rf"/chats/{ID}/messages", t.post_chat, None, CHATS),
        r("GET", rf"/chats/{ID}/messages/{ID}", t.get_chat_message, None, CHATS),
        r("POST", rf"/users/{ID}/teamwork/sendActivityNotification", t.activity, "TeamsActivity.Send", None),
    ]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Teams:
    def __init__(self, graph: FakeGraph) -> None:
        self.graph, self.tenant = graph, graph.tenant

    def _ours(self, call: Handled) -> bool:
        return call.groups[0] == self.tenant.team_id and call.groups[1] == self.tenant.channel_id

    def _new(self, call: Handled, **where: Any) -> Message:
        body = call.json()
        user = self.tenant.users[call.token.user_id or ""]
        message = Message(
            self.tenant.next_id(),
            user.id,
            user.name,
            body["body"]["content"],
            self.tenant.now(),
            self.tenant.next_seq(),
            subject=body.get("subject"),
            **where,
        )
        self.tenant.add_message(message)
        self.graph.notifier.created(message)
        return message

    def post_channel(self, call: Handled) -> Response:
        if not self._ours(call):
            return error(404, "NotFound", "no such channel")
        return Response(201, self._new(call, channel=call.groups[:2]).json())

    def reply(self, call: Handled) -> Response:
        if not self._ours(call) or not any(m.id == call.groups[2] for m in self.tenant.channel_posts()):
            return error(404, "NotFound", "no such thread")
        return Response(201, self._new(call, channel=call.groups[:2], reply_to=call.groups[2]).json())

    def list_channel(self, call: Handled) -> Response:
        top = int(call.request.query.get("$top", "20"))
        posts = sorted(self.tenant.channel_posts(), key=lambda m: m.created, reverse=True)[:top]
        return Response(200, {"value": [m.json() for m in posts]})

    def get_channel_message(self, call: Handled) -> Response:
        found = [m for m in self.tenant.channel_posts() if m.id == call.groups[2]]
        return Response(200, found[0].json()) if found else error(404, "NotFound")

    def get_reply(self, call: Handled) -> Response:
        found = [m for m in self.tenant.replies(call.groups[2]) if m.id == call.groups[3]]
        return Response(200, found[0].json()) if found else error(404, "NotFound")

    def delta(self, call: Handled) -> Response:
        """Root messages changed after the token (initially: all, or those after a $filter time),
        `page_size` a page, then a delta link holding the position."""
        query = call.request.query
        if "$deltatoken" in query:
            since = int(query["$deltatoken"])
            if since < self.graph.notifier.oldest_delta:
                return error(410, "resyncRequired", "the delta token has expired")
            chosen = [m for m in self.tenant.channel_posts() if m.seq > since]
        else:
            chosen = self.tenant.channel_posts()
            found = re.fullmatch(r"lastModifiedDateTime gt (\S+)", query.get("$filter", ""))
            if found:
                chosen = [m for m in chosen if m.created > _moment(found.group(1))]
        upto = int(query.get("$snapshot", str(self.tenant.next_seq())))
        chosen = [m for m in chosen if m.seq <= upto]
        skip = int(query.get("$skiptoken", "0"))
        page = chosen[skip : skip + self.graph.page_size]
        base = f"{self.graph.base}/teams/{call.groups[0]}/channels/{call.groups[1]}/messages/delta"
        body: dict[str, Any] = {"value": [m.json() for m in page]}
        if skip + self.graph.page_size < len(chosen):
            rest = {k: v for k, v in query.items() if k not in ("$skiptoken", "$snapshot")}
            rest.update({"$snapshot": str(upto), "$skiptoken": str(skip + self.graph.page_size)})
            body["@odata.nextLink"] = f"{base}?{urlencode(rest, quote_via=quote)}"
        else:
            body["@odata.deltaLink"] = f"{base}?$deltatoken={upto}"
        return Response(200, body)

    def _member(self, call: Handled) -> bool:
        chat = self.tenant.chats.get(call.groups[0])
        return chat is not None and (call.token.user_id or "") in chat.members

    def my_chats(self, call: Handled) -> Response:
        mine = [c for c in self.tenant.chats.values() if (call.token.user_id or "") in c.members]
        listed: list[dict[str, Any]] = []
        for chat in mine:
            messages = self.tenant.chat_messages(chat.id)
            preview = (
                {"id": messages[-1].id, "createdDateTime": stamp(messages[-1].created)} if messages else None
            )
            listed.append({"id": chat.id, "chatType": chat.chat_type, "lastMessagePreview": preview})
        listed.sort(key=lambda c: (c["lastMessagePreview"] or {}).get("createdDateTime", ""), reverse=True)
        return Response(200, {"value": listed})

    def get_chat(self, call: Handled) -> Response:
        if not self._member(call):
            return error(404, "NotFound")
        chat = self.tenant.chats[call.groups[0]]
        return Response(200, {"id": chat.id, "chatType": chat.chat_type})

    def list_chat(self, call: Handled) -> Response:
        if not self._member(call):
            return error(404, "NotFound")
        messages = self.tenant.chat_messages(call.groups[0])
        found = re.fullmatch(r"lastModifiedDateTime gt (\S+)", call.request.query.get("$filter", ""))
        if found:
            messages = [m for m in messages if m.created > _moment(found.group(1))]
        messages = sorted(messages, key=lambda m: m.created, reverse=True)
        return Response(
            200, {"value": [m.json() for m in messages[: int(call.request.query.get("$top", "50"))]]}
        )

    def post_chat(self, call: Handled) -> Response:
        if not self._member(call):
            return error(404, "NotFound")
        return Response(201, self._new(call, chat_id=call.groups[0]).json())

    def get_chat_message(self, call: Handled) -> Response:
        if not self._member(call):
            return error(404, "NotFound")
        found = [m for m in self.tenant.chat_messages(call.groups[0]) if m.id == call.groups[1]]
        return Response(200, found[0].json()) if found else error(404, "NotFound")

    def activity(self, call: Handled) -> Response:
        user = self.tenant.users.get(call.groups[0])
        if user is None or not user.app_installed:
            return error(404, "NotFound", "the Teams app is not installed for the user")
        with self.tenant.lock:
            self.tenant.activities.append((user.id, call.json()))
        return Response(204)
