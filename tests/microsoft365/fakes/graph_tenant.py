"""The fake Graph's world: users, the organiser's calendar (and what Exchange mailed because of it),
sent mail, Teams messages in the channel and chats, activity notifications. Tests read it directly."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class User:
    id: str
    name: str
    mail: str | None
    language: str = "nb-NO"
    app_installed: bool = True  # the Teams app (for the activity feed)


@dataclass
class Event:
    id: str
    transaction_id: str | None
    fields: dict[str, Any]
    attendees: list[str]  # addresses
    online: bool
    join_url: str | None
    cancelled: bool = False
    deleted: bool = False
    patches: list[dict[str, Any]] = field(default_factory=list)
    # The online meeting's join section ("meeting blob") Exchange appended to the body when it was made.
    blob: str | None = None
    version: int = 1  # raised on every change: the ETag
    # Exchange's UID of the event in every invitation it sends (Outlook's format: hex, 112 digits).
    ical_uid: str = field(
        default_factory=lambda: "040000008200E00074C5B7101A82E008" + secrets.token_hex(40).upper()
    )

    @property
    def etag(self) -> str:
        return f'W/"DwAAABYAAAC{self.version:08d}"'

    @property
    def body(self) -> str:
        return str((self.fields.get("body") or {}).get("content") or "")

    def changed(self) -> None:
        self.version += 1


@dataclass(frozen=True)
class Mailed:
    """A message Exchange sent because of the calendar: invitation, update or cancellation."""

    kind: str
    event_id: str
    address: str


@dataclass
class Mail:
    sender: str
    to: list[str]
    subject: str
    headers: dict[str, str]
    text: str | None
    html: str | None
    attachments: list[tuple[str, str, bytes]]
    message_id: str
    route: str  # "mime" or "json"
    raw: bytes = b""  # the MIME message exactly as Graph received it (the MIME route)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)

    @property
    def recipients(self) -> list[str]:
        """Every address the mail goes to (To, Cc and Bcc), as Exchange counts them."""
        return [*self.to, *self.cc, *self.bcc]


@dataclass
class InboxMail:
    """A message in the organiser mailbox's inbox (a non-delivery report, a person's reply)."""

    id: str
    seq: int
    sender: str
    sender_name: str
    subject: str
    internet_message_id: str
    raw: bytes


@dataclass
class Message:
    id: str
    from_id: str
    from_name: str
    html: str
    created: datetime
    seq: int  # raised on every change (for delta)
    subject: str | None = None
    chat_id: str | None = None
    reply_to: str | None = None
    mentions: list[dict[str, Any]] = field(default_factory=list)
    channel: tuple[str, str] | None = None  # (team, channel)
    attachments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shown(self) -> str:
        """What Teams shows of it: the body, and each attachment's content (a card's texts and links)."""
        return self.html + "".join(str(a.get("content") or "") for a in self.attachments)

    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards attached, parsed."""
        return [
            json.loads(a["content"])
            for a in self.attachments
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    def resource(self) -> str:
        if self.chat_id is not None:
            return f"chats('{self.chat_id}')/messages('{self.id}')"
        assert self.channel is not None
        team, channel = self.channel
        base = f"teams('{team}')/channels('{channel}')/messages"
        return f"{base}('{self.reply_to}')/replies('{self.id}')" if self.reply_to else f"{base}('{self.id}')"

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "messageType": "message",
            "createdDateTime": stamp(self.created),
            "lastModifiedDateTime": stamp(self.created),
            "deletedDateTime": None,
            "subject": self.subject,
            "replyToId": self.reply_to,
            "from": {"user": {"id": self.from_id, "displayName": self.from_name}, "application": None},
            "body": {"contentType": "html", "content": self.html},
            "mentions": self.mentions,
            "attachments": self.attachments,
        }
        if self.chat_id is not None:
            body["chatId"] = self.chat_id
        if self.channel is not None:
            body["channelIdentity"] = {"teamId": self.channel[0], "channelId": self.channel[1]}
        return body


@dataclass
class Chat:
    id: str
    chat_type: str
    members: list[str]


class Tenant:
    def __init__(self, team_id: str, channel_id: str, organiser: str) -> None:
        self.team_id, self.channel_id, self.organiser = team_id, channel_id, organiser
        self.users: dict[str, User] = {}
        self.events: dict[str, Event] = {}
        self.exchange: list[Mailed] = []
        self.mails: list[Mail] = []
        # The organiser's inbox, and addresses that do not exist: mail to them comes back as an NDR.
        self.inbox: list[InboxMail] = []
        self.nonexistent: set[str] = set()
        self.messages: list[Message] = []
        self.chats: dict[str, Chat] = {}
        self.activities: list[tuple[str, dict[str, Any]]] = []
        self.bulk_calls: list[int] = []  # recipients of each bulk activity notification
        # The organiser mailbox has a Teams licence: its calendar allows Teams meetings.
        self.teams_meetings = True
        # Edits the organiser saves in Outlook just before the next PATCH reaches Exchange (a race).
        self.before_next_patch: list[Callable[[Event], None]] = []
        self.lock = threading.RLock()
        # Exchange Online's sending limits of one mailbox (service description, "Sending limits"):
        # recipients in a rolling 24 hours (To, Cc and Bcc each count; so does each attendee a meeting
        # invitation goes to) and recipients in one message.
        self.recipients_per_day = 10_000
        self.recipients_per_message = 500
        self.submitted: list[tuple[datetime, int]] = []  # (when, recipients) of the rolling day
        # The tenant's time (tests set their clock here, so Graph and the bot agree on "now").
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._ids = itertools.count(1_700_000_000_000)
        self._seq = itertools.count(1)

    def next_id(self) -> str:
        return str(next(self._ids))

    def next_seq(self) -> int:
        return next(self._seq)

    def add_user(self, user_id: str, name: str, mail: str | None, language: str = "nb-NO") -> User:
        user = User(user_id, name, mail, language)
        self.users[user_id] = user
        return user

    def add_message(self, message: Message) -> Message:
        with self.lock:
            self.messages.append(message)
        return message

    def chat_with(self, user_id: str, other: str) -> Chat:
        """The 1:1 chat of two users, made when first needed."""
        with self.lock:
            for chat in self.chats.values():
                if chat.chat_type == "oneOnOne" and set(chat.members) == {user_id, other}:
                    return chat
            chat = Chat(f"19:{user_id}_{other}@unq.gbl.spaces", "oneOnOne", [user_id, other])
            self.chats[chat.id] = chat
            return chat

    # --- what the organiser does in Outlook -----------------------------------------------------

    def edit_in_outlook(
        self, event: Event, *, add: Sequence[str] = (), remove: Sequence[str] = (), text: str | None = None
    ) -> None:
        """The organiser edits the meeting in Outlook and sends the update: attendees added are invited,
        those removed get a cancellation; `text` replaces the body above the join section, which
        Outlook keeps."""
        with self.lock:
            event.attendees += [a.lower() for a in add if a.lower() not in event.attendees]
            event.attendees = [a for a in event.attendees if a not in {r.lower() for r in remove}]
            self.exchange += [Mailed("invitation", event.id, a.lower()) for a in add]
            self.exchange += [Mailed("cancellation", event.id, a.lower()) for a in remove]
            if text is not None:
                event.fields["body"] = {"contentType": "html", "content": text + (event.blob or "")}
            event.changed()

    def delete_in_outlook(self, event: Event) -> None:
        """The organiser deletes the meeting in Outlook: its attendees get a cancellation."""
        with self.lock:
            event.deleted = True
            self.exchange += [Mailed("cancellation", event.id, a) for a in event.attendees]

    # --- what tests look at ---------------------------------------------------------------------

    def live_events(self) -> list[Event]:
        with self.lock:
            return [e for e in self.events.values() if not e.deleted]

    def channel_posts(self, by: str | None = None) -> list[Message]:
        with self.lock:
            return [
                m
                for m in self.messages
                if m.channel is not None and m.reply_to is None and (by is None or m.from_id == by)
            ]

    def replies(self, thread_id: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.reply_to == thread_id]

    def chat_messages(self, chat_id: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.chat_id == chat_id]

    def count_recipients(self, n: int) -> None:
        """Meeting mail Exchange sends from the organiser mailbox counts against its day too."""
        with self.lock:
            self.submitted.append((self.now(), n))

    def recipients_in_day(self) -> int:
        """Recipients the organiser mailbox sent to in the rolling 24 hours up to now."""
        with self.lock:
            since = self.now() - timedelta(days=1)
            return sum(n for at, n in self.submitted if at > since)

    def mailed(self, kind: str) -> list[Mailed]:
        with self.lock:
            return [m for m in self.exchange if m.kind == kind]
