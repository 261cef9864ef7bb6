"""The fake Graph's Teams side: channel posts and replies, chat messages (posting needs a delegated
token, as in real Teams), the channel's delta query with next and delta links, the signed-in
user's chats with their last message, single messages, and activity-feed notifications.

As Graph documents it: the delta and the channel listing hold root messages only; replies come with
`$expand=replies` on the listing (at most 1000 a thread, then `replies@odata.nextLink`) or from
`/messages/{id}/replies`; a listing page holds at most 50 threads and a replies page at most 50
(`$top`), and neither takes other query options ($filter, $orderby: 400). Activity notifications in
bulk (`/teamwork/sendActivityNotificationToRecipients`): at most 100 recipients, each an
`aadUserNotificationRecipient`, a `text` topic with its `webUrl`; 412 when the token expires within
45 minutes; 202 with no word about each recipient (one without the app gets nothing). A message's attachments
are checked as Graph checks them: each has an id the body names (`<attachment id="…"></attachment>`)
and every id the body names is attached; an Adaptive Card's `content` is the card serialized as a
JSON string, of type AdaptiveCard with a version Teams renders (up to 1.5). A message over about
28 KB (all of it: text, markup, cards) is refused with 413 MessageSizeTooBig."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from tests.fakes.https_fake import Response, error
from tests.microsoft365.fakes.graph_tenant import Message, stamp

if TYPE_CHECKING:
    from tests.microsoft365.fakes.graph_api import FakeGraph, Handled, Route

ID = r"([^/]+)"
MOST_THREADS, MOST_REPLIES_PAGE, MOST_EXPANDED = 50, 50, 1000
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
        r("GET", rf"{channel}/{ID}/replies", t.list_replies, None, READ),
        r("GET", rf"{channel}/{ID}/replies/{ID}", t.get_reply, None, READ),
        r("GET", "/me/chats", t.my_chats, None, CHATS),
        r("GET", rf"/chats/{ID}", t.get_chat, None, CHATS),
        r("GET", rf"/chats/{ID}/messages", t.list_chat, None, CHATS),
        r("POST", rf"/chats/{ID}/messages", t.post_chat, None, CHATS),
        r("GET", rf"/chats/{ID}/messages/{ID}", t.get_chat_message, None, CHATS),
        r("POST", rf"/users/{ID}/teamwork/sendActivityNotification", t.activity, "TeamsActivity.Send", None),
        r(
            "POST",
            "/teamwork/sendActivityNotificationToRecipients",
            t.bulk_activity,
            "TeamsActivity.Send",
            None,
        ),
    ]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Teams:
    def __init__(self, graph: FakeGraph) -> None:
        self.graph, self.tenant = graph, graph.tenant

    def _ours(self, call: Handled) -> bool:
        return call.groups[0] == self.tenant.team_id and call.groups[1] == self.tenant.channel_id

    def _new(self, call: Handled, **where: Any) -> Message | Response:
        if len(call.request.body) > MOST_MESSAGE_BYTES:
            return error(413, "MessageSizeTooBig", "Request Entity too large")
        body = call.json()
        refused = _bad_attachments(body)
        if refused is not None:
            return error(400, "BadRequest", refused)
        user = self.tenant.users[call.token.user_id or ""]
        message = Message(
            self.tenant.next_id(),
            user.id,
            user.name,
            body["body"]["content"],
            self.tenant.now(),
            self.tenant.next_seq(),
            subject=body.get("subject"),
            attachments=list(body.get("attachments") or []),
            **where,
        )
        self.tenant.add_message(message)
        self.graph.notifier.created(message)
        return message

    def post_channel(self, call: Handled) -> Response:
        if not self._ours(call):
            return error(404, "NotFound", "no such channel")
        return _created(self._new(call, channel=call.groups[:2]))

    def reply(self, call: Handled) -> Response:
        if not self._ours(call) or not any(m.id == call.groups[2] for m in self.tenant.channel_posts()):
            return error(404, "NotFound", "no such thread")
        return _created(self._new(call, channel=call.groups[:2], reply_to=call.groups[2]))

    def list_channel(self, call: Handled) -> Response:
        """The threads, newest first, `$top` (20; at most 50) a page; their replies with $expand."""
        query = call.request.query
        bad = _refused(query, {"$top", "$expand", "$skiptoken"}, 20, MOST_THREADS)
        if bad is not None:
            return bad
        if query.get("$expand", "replies") != "replies":
            return error(400, "BadRequest", "only replies can be expanded")
        top, skip = int(query.get("$top", "20")), int(query.get("$skiptoken", "0"))
        posts = sorted(self.tenant.channel_posts(), key=lambda m: m.created, reverse=True)
        page = []
        for post in posts[skip : skip + top]:
            body = post.json()
            if "$expand" in query:
                replies = self.tenant.replies(post.id)
                body["replies"] = [m.json() for m in replies[:MOST_EXPANDED]]
                if len(replies) > MOST_EXPANDED:
                    body["replies@odata.nextLink"] = self._replies_link(call, post.id, MOST_EXPANDED)
            page.append(body)
        answer: dict[str, Any] = {"value": page}
        if skip + top < len(posts):
            rest = {**query, "$skiptoken": str(skip + top)}
            answer["@odata.nextLink"] = f"{self._base(call)}?{urlencode(rest, quote_via=quote)}"
        return Response(200, answer)

    def list_replies(self, call: Handled) -> Response:
        """A thread's replies, oldest first, `$top` (20; at most 50) a page."""
        query = call.request.query
        bad = _refused(query, {"$top", "$skiptoken"}, 20, MOST_REPLIES_PAGE)
        if bad is not None:
            return bad
        if not self._ours(call) or not any(m.id == call.groups[2] for m in self.tenant.channel_posts()):
            return error(404, "NotFound", "no such thread")
        top, skip = int(query.get("$top", "20")), int(query.get("$skiptoken", "0"))
        replies = self.tenant.replies(call.groups[2])
        answer: dict[str, Any] = {"value": [m.json() for m in replies[skip : skip + top]]}
        if skip + top < len(replies):
            answer["@odata.nextLink"] = self._replies_link(call, call.groups[2], skip + top, top)
        return Response(200, answer)

    def _base(self, call: Handled) -> str:
        return f"{self.graph.base}/teams/{call.groups[0]}/channels/{quote(call.groups[1])}/messages"

    def _replies_link(self, call: Handled, thread_id: str, skip: int, top: int = 50) -> str:
        return f"{self._base(call)}/{thread_id}/replies?$top={top}&$skiptoken={skip}"

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
        return _created(self._new(call, chat_id=call.groups[0]))

    def get_chat_message(self, call: Handled) -> Response:
        if not self._member(call):
            return error(404, "NotFound")
        found = [m for m in self.tenant.chat_messages(call.groups[0]) if m.id == call.groups[1]]
        return Response(200, found[0].json()) if found else error(404, "NotFound")

    def bulk_activity(self, call: Handled) -> Response:
        if call.token.expires_at - time.time() < TOKEN_LEFT:
            return error(412, "PreconditionFailed", "the token must be at least 45 minutes from expiry")
        body = call.json()
        refused = _bad_notification(body)
        if refused is not None:
            return error(400, "BadRequest", refused)
        with self.tenant.lock:
            self.tenant.bulk_calls.append(len(body["recipients"]))
            for recipient in body["recipients"]:
                user = self.tenant.users.get(recipient["userId"])
                if user is not None and user.app_installed:
                    one = {k: v for k, v in body.items() if k != "recipients"}
                    self.tenant.activities.append((user.id, one))
        return Response(202)

    def activity(self, call: Handled) -> Response:
        user = self.tenant.users.get(call.groups[0])
        if user is None or not user.app_installed:
            return error(404, "NotFound", "the Teams app is not installed for the user")
        with self.tenant.lock:
            self.tenant.activities.append((user.id, call.json()))
        return Response(204)


def _refused(query: dict[str, str], allowed: set[str], default: int, most: int) -> Response | None:
    """Graph's 400 for a query option the listing does not take, or a `$top` over its maximum."""
    unknown = sorted(set(query) - allowed)
    if unknown:
        return error(400, "BadRequest", f"query option {unknown[0]} is not supported")
    top = query.get("$top", str(default))
    if not top.isdigit() or not 1 <= int(top) <= most:
        return error(400, "BadRequest", f"$top must be between 1 and {most}")
    return None


CARD = "application/vnd.microsoft.card.adaptive"
MOST_MESSAGE_BYTES = 28 * 1024
CARD_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5")


def _created(made: Message | Response) -> Response:
    return made if isinstance(made, Response) else Response(201, made.json())


def _bad_attachments(body: dict[str, Any]) -> str | None:
    """What Graph refuses in a new message's attachments, or None."""
    attachments = body.get("attachments") or []
    content = str((body.get("body") or {}).get("content") or "")
    named = set(re.findall(r'<attachment id="([^"]*)"></attachment>', content))
    ids = [str(a.get("id") or "") for a in attachments if isinstance(a, dict)]
    if len(ids) != len(attachments) or "" in ids or len(set(ids)) != len(ids):
        return "every attachment needs an id of its own"
    if set(ids) != named:
        return "the message body must reference each attachment, and only those: <attachment id=...>"
    for attachment in attachments:
        if attachment.get("contentType") != CARD:
            continue
        raw = attachment.get("content")
        if not isinstance(raw, str):
            return "an Adaptive Card's content must be the card serialized as a JSON string"
        try:
            card = json.loads(raw)
        except ValueError:
            return "an Adaptive Card's content is not JSON"
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            return "the card is not an AdaptiveCard"
        if card.get("version") not in CARD_VERSIONS:
            return "unsupported Adaptive Card version"
    return None


MOST_RECIPIENTS = 100
TOKEN_LEFT = 45 * 60  # seconds a token must still be valid for the bulk activity notification
RECIPIENT = "microsoft.graph.aadUserNotificationRecipient"


def _bad_notification(body: dict[str, Any]) -> str | None:
    """What Graph refuses in a bulk activity notification, or None."""
    recipients = body.get("recipients")
    if not isinstance(recipients, list) or not 1 <= len(recipients) <= MOST_RECIPIENTS:
        return f"between 1 and {MOST_RECIPIENTS} recipients in a request"
    if any(r.get("@odata.type") != RECIPIENT or not r.get("userId") for r in recipients):
        return "only aadUserNotificationRecipient recipients with a userId are supported"
    topic = body.get("topic") or {}
    if topic.get("source") not in ("text", "entityUrl") or not topic.get("value"):
        return "a topic with a source and a value is required"
    if topic.get("source") == "text" and not topic.get("webUrl"):
        return "webUrl is required when the topic's source is text"
    if not body.get("activityType") or not (body.get("previewText") or {}).get("content"):
        return "activityType and previewText are required"
    return None
