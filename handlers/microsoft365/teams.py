"""Teams through Graph: posts and replies in the network's channel and in chats (delegated: only a
signed-in user may post), activity-feed notifications (app-only), and reading single messages."""

from __future__ import annotations

from typing import Any

from handlers.microsoft365.card import CardPost
from handlers.microsoft365.client import Auth, GraphClient, segment
from handlers.microsoft365.errors import GraphConflict
from handlers.microsoft365.settings import MicrosoftSettings

SEND_CHANNEL = "ChannelMessage.Send"
READ_CHANNEL = "ChannelMessage.Read.All"
CHATS = "Chat.ReadWrite"
ACTIVITY = "TeamsActivity.Send"
RECIPIENT = "microsoft.graph.aadUserNotificationRecipient"


def html_body(content: str) -> dict[str, Any]:
    return {"body": {"contentType": "html", "content": content}}


class TeamsApi:
    def __init__(self, client: GraphClient, settings: MicrosoftSettings) -> None:
        self.client, self.settings = client, settings

    @property
    def has_channel(self) -> bool:
        return bool(self.settings.team_id and self.settings.channel_id)

    @property
    def channel_path(self) -> str:
        team, channel = self.settings.team_id or "", self.settings.channel_id or ""
        return f"/teams/{segment(team)}/channels/{segment(channel)}"

    def post_to_channel(self, subject: str, content: str, *, wait_when_throttled: bool = True) -> str:
        """A new thread in the network's channel; returns the message id."""
        body = {"subject": subject[:250], **html_body(content)}
        posted = self.client.call(
            "POST",
            f"{self.channel_path}/messages",
            auth=Auth.USER,
            permission=SEND_CHANNEL,
            json=body,
            wait_when_throttled=wait_when_throttled,
        )
        return str(posted.object().get("id", ""))

    def post_card(self, post: CardPost, *, wait_when_throttled: bool = True) -> str:
        """A new thread in the network's channel holding an Adaptive Card; returns the message id."""
        posted = self.client.call(
            "POST",
            f"{self.channel_path}/messages",
            auth=Auth.USER,
            permission=SEND_CHANNEL,
            json=post.as_json(),
            wait_when_throttled=wait_when_throttled,
        )
        return str(posted.object().get("id", ""))

    def reply_in_channel(self, thread_id: str, content: str) -> str:
        posted = self.client.call(
            "POST",
            f"{self.channel_path}/messages/{segment(thread_id)}/replies",
            auth=Auth.USER,
            permission=SEND_CHANNEL,
            json=html_body(content),
        )
        return str(posted.object().get("id", ""))

    def post_to_chat(self, chat_id: str, content: str) -> str:
        posted = self.client.call(
            "POST",
            f"/chats/{segment(chat_id)}/messages",
            auth=Auth.USER,
            permission=CHATS,
            json=html_body(content),
        )
        return str(posted.object().get("id", ""))

    def recent_channel_posts(self, top: int = 20) -> list[dict[str, Any]]:
        """The channel's newest threads (to check whether a post in doubt went out)."""
        page = self.client.call(
            "GET",
            f"{self.channel_path}/messages",
            auth=Auth.USER,
            permission=READ_CHANNEL,
            params={"$top": str(top)},
        )
        return [m for m in page.object().get("value", []) if isinstance(m, dict)]

    def chat(self, chat_id: str) -> dict[str, Any]:
        return self.client.call(
            "GET", f"/chats/{segment(chat_id)}", auth=Auth.USER, permission=CHATS
        ).object()

    def notify_many(self, user_ids: list[str], *, title: str, preview: str, web_url: str) -> None:
        """One activity-feed notification to up to 100 people. Graph answers 202 whoever has the
        Teams app (those without get nothing), and 412 when the token expires within 45 minutes:
        then once more with a fresh token."""
        body = {
            **_notification(title, preview, web_url),
            "recipients": [{"@odata.type": RECIPIENT, "userId": user_id} for user_id in user_ids],
        }
        path = "/teamwork/sendActivityNotificationToRecipients"
        for fresh in (False, True):
            try:
                self.client.call(
                    "POST",
                    path,
                    auth=Auth.APP,
                    permission=ACTIVITY,
                    json=body,
                    wait_when_throttled=False,
                    fresh_token=fresh,
                )
                return
            except GraphConflict:
                if fresh:
                    raise

    def notify(self, user_id: str, *, title: str, preview: str, web_url: str) -> None:
        """A personal activity-feed notification (the Teams app must be installed for the user)."""
        body = _notification(title, preview, web_url)
        self.client.call(
            "POST",
            f"/users/{segment(user_id)}/teamwork/sendActivityNotification",
            auth=Auth.APP,
            permission=ACTIVITY,
            json=body,
            wait_when_throttled=False,
        )


def _notification(title: str, preview: str, web_url: str) -> dict[str, Any]:
    return {
        "topic": {"source": "text", "value": title[:100], "webUrl": web_url},
        "activityType": "announcement",
        "previewText": {"content": preview[:150]},
        "templateParameters": [{"name": "title", "value": title[:100]}],
    }
