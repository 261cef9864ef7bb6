"""Slack's outgoing side for the delivery engine: posts to the announcement channel and direct messages.

The engine owns timing, pacing and once-only delivery; this module only maps one message to one
Web API call and Slack's answers to the engine's outcomes. Each post carries the delivery key as
message metadata, so a post in doubt after a crash is looked up (in the channel's history, or in the
thread it went to) before it is sent again.

The announcement channel's post about a session is one living message: a change or a cancellation
edits the invitation post (chat.update; editing again is harmless, so it needs no look-up), reminders
and the follow-up are replies in its thread, and the last reminder is broadcast to the channel too.
Without that post (never made, or deleted) they are posts of their own. Direct messages are always
posts of their own.

A message too long for one post (a follow-up with many slides) is one delivery of several posts: the
first, whose `channel:ts` is the delivery's reference, and the rest in its thread, each waited for
through Slack's rate limits (the delivery is done once its first post is out).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from bot.delivery import kinds
from bot.delivery.channels import (
    CREDENTIALS,
    PERMISSION,
    TARGET_CLOSED,
    ChannelUnavailable,
    Headcount,
    NotSent,
    OutgoingMessage,
    Pace,
    PermanentError,
    Recipient,
    RetryLater,
    Target,
    TransientError,
    Unverifiable,
)
from bot.delivery.messages import SameForAll, render
from bot.rendering import Renderer, escape_mrkdwn
from bot.views import SeriesView
from handlers.slack.labels import Labels
from handlers.slack.posts import KINDS as POST_KINDS
from handlers.slack.posts import SlackMessage, session_post
from handlers.slack.settings import SlackSettings
from handlers.slack.web_api import SlackCallFailed, SlackUnreachable, SlackWebAPI

log = logging.getLogger(__name__)

METADATA_TYPE = "baerekraft_delivery"
# Answers about the app itself (Slack checks the token and its scopes before anything else): every
# send would meet them, so Slack sending pauses until one gets through again.
WHOLE_APP = {
    "invalid_auth": CREDENTIALS,
    "not_authed": CREDENTIALS,
    "account_inactive": CREDENTIALS,  # the bot user (or the workspace) was deactivated
    "token_revoked": CREDENTIALS,
    "token_expired": CREDENTIALS,
    "missing_scope": PERMISSION,
    "not_allowed_token_type": PERMISSION,
    "no_permission": PERMISSION,
    "team_access_not_granted": PERMISSION,
}
# Answers about a channel the bot posts in: sending there waits (direct messages go on).
CHANNEL_CLOSED = frozenset({"is_archived", "channel_not_found", "not_in_channel"})
# Answers no retry can fix for this one message: the person is gone, or the message is wrong.
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
    }
)
# Answers to the history check that mean Slack will not show the history, now or on a retry.
HISTORY_HIDDEN = frozenset({"missing_scope", "not_in_channel", "channel_not_found"})
HISTORY_PAGE = 200
# Kinds that edit the announcement channel's invitation post; kinds that reply in its thread.
EDITS = frozenset({kinds.CHANGE, kinds.CANCELLATION})
REPLIES = frozenset({kinds.REMINDER, kinds.FOLLOWUP})
# The living post is gone (deleted in Slack): the message becomes a post of its own.
POST_GONE = frozenset({"message_not_found", "thread_not_found", "cant_update_message"})
WORKSPACE_PACE = "slack:workspace"
# Slack allows short bursts: across the workspace a send may run two intervals ahead of the steady
# pace, so one that was late (a slow answer, a busy machine) is caught up instead of lost.
WORKSPACE_BURST = 3
# Tries of each further post of a long message (its first is out: the engine will not send it again).
THREAD_ATTEMPTS = 6
THREAD_WAIT_MOST = 60.0


class SlackSender:
    channel = "slack"

    def __init__(
        self,
        client: SlackWebAPI,
        settings: SlackSettings,
        renderer: Renderer,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.settings, self.renderer = client, settings, renderer
        self.sleep = sleep  # the clock's: waits out a 429 between the posts of one long message
        self.labels = Labels(renderer)
        self.same_for_all = SameForAll(renderer)
        self.interval = timedelta(seconds=1 / settings.rate_per_second)
        self.workspace_interval = timedelta(seconds=60 / settings.workspace_rate_per_minute)
        self.in_flight = settings.sends_in_flight

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        """The announcement channel for public messages; a DM to each person who chose DMs (public
        messages) or who organises the series (organiser notices) and has a Slack identity."""
        targets: list[Target] = []
        if channel := self._announced_in(kind):
            targets.append(Target(channel, series.language))
        for person in recipients:
            user = person.identities.get("slack")
            if user and _direct(kind, person.direct):
                targets.append(Target(user, person.language, person.person_id))
        return targets

    def paced_sends(self, kind: str, series: SeriesView, headcount: Headcount) -> list[tuple[Pace, int]]:
        """`audience`'s sends on the workspace's pace (each channel's own pace carries one)."""
        dms = headcount.people(lambda p: "slack" in p.platforms and _direct(kind, p.direct))
        posts = 1 if self._announced_in(kind) else 0
        return [(self._workspace_pace(), posts + dms)]

    def pacing(self, target: str) -> list[Pace]:
        """Slack's pace per channel (a DM is a channel of its own) and its cap for the whole workspace."""
        return [Pace(f"slack:{target}", self.interval), self._workspace_pace()]

    def _workspace_pace(self) -> Pace:
        return Pace(WORKSPACE_PACE, self.workspace_interval, WORKSPACE_BURST)

    def _announced_in(self, kind: str) -> str | None:
        """The announcement channel `kind` is posted to, if any."""
        return self.settings.channel_id if kind in kinds.PUBLIC else None

    def send(self, message: OutgoingMessage) -> str | None:
        if _deactivated(message):
            raise NotSent("the Slack user is deactivated")
        kwargs, thread = self._post(message)
        try:
            ref, parent = self._first_post(message, kwargs)
        except SlackCallFailed as exc:
            raise _outcome(exc, message.target) from exc
        except SlackUnreachable as exc:  # not `sent`: no connection, nothing went out
            raise TransientError(f"Slack unreachable: {exc.reason}", in_doubt=exc.sent) from exc
        channel = ref.partition(":")[0]
        for number, more in enumerate(thread, start=2):
            self._post_in_thread(message, channel, parent, number, more)
        return ref

    def _first_post(self, message: OutgoingMessage, kwargs: dict[str, Any]) -> tuple[str, str]:
        """The message's (first) post, an edit of or a reply to the living post where there is one:
        its reference, and the ts of the thread the rest of a long message goes to."""
        living = _living_post(message)
        if living is not None and message.kind in EDITS | REPLIES:
            return self._on_living_post(living, message, kwargs)
        ref = self._send_post(message.target, message, kwargs)
        return ref, ref.partition(":")[2]

    def _send_post(self, channel: str, message: OutgoingMessage, kwargs: dict[str, Any]) -> str:
        answer = self.client.post_message(
            channel,
            metadata={"event_type": METADATA_TYPE, "event_payload": {"key": message.key}},
            **kwargs,
        )
        return f"{answer.get('channel')}:{answer.get('ts')}"

    def _post_in_thread(
        self, message: OutgoingMessage, channel: str, parent: str, number: int, more: SlackMessage
    ) -> None:
        """One further post of a long message, in the first one's thread, tried until Slack takes it
        (a 429 waited out, a failure tried again) or THREAD_ATTEMPTS are used up (then logged)."""
        metadata = {"event_type": METADATA_TYPE, "event_payload": {"key": message.key, "part": number}}
        error = ""
        for _ in range(THREAD_ATTEMPTS):
            try:
                self.client.post_message(channel, thread_ts=parent, metadata=metadata, **more.as_kwargs())
                return
            except SlackCallFailed as exc:
                error = exc.error
                if exc.error in PERMANENT:
                    break
                wait = exc.retry_after if exc.status == 429 or exc.error == "ratelimited" else 1.0
            except SlackUnreachable as exc:
                error, wait = exc.reason, 1.0
            self.sleep(min(wait, THREAD_WAIT_MOST))
        log.error("delivery %s: post %s of its message not sent (%s)", message.delivery_id, number, error)

    def _on_living_post(
        self, living: tuple[str, str], message: OutgoingMessage, kwargs: dict[str, Any]
    ) -> tuple[str, str]:
        """An edit of the invitation post (change, cancellation: its reference stays) or a reply in its
        thread (the last reminder shows in the channel as well); a post of its own when it is gone.
        Returns the reference and the thread for the rest of a long message."""
        channel, ts = living
        try:
            if message.kind in EDITS:
                self.client.update_message(channel, ts, text=kwargs["text"], blocks=kwargs.get("blocks"))
                return f"{channel}:{ts}", ts
            broadcast = message.kind == kinds.REMINDER and bool(message.payload.get("last"))
            reply = {**kwargs, "thread_ts": ts, "reply_broadcast": broadcast}
            return self._send_post(channel, message, reply), ts
        except SlackCallFailed as exc:
            if exc.error not in POST_GONE:
                raise
            log.info(
                "delivery %s: the channel post %s is gone (%s): posted anew",
                message.delivery_id,
                ts,
                exc.error,
            )
            ref = self._send_post(message.target, message, kwargs)
            return ref, ref.partition(":")[2]

    def find_sent(self, message: OutgoingMessage) -> str | None:
        """The post with this delivery's key, if it went out: in the living post's thread for a reply,
        in the target's recent history otherwise. An edit is never looked up: making it again is
        harmless. Unverifiable when Slack will not show the history (a scope or the bot's membership
        is missing: no retry changes that); a passing failure is retried."""
        living = _living_post(message)
        if living is not None and message.kind in EDITS:
            return None
        try:
            if living is not None and message.kind in REPLIES:
                channel, ts = living
                found = self._in_thread(channel, ts, message.key)
                if found is not None:
                    return found
            return self._in_history(message.target, message.key)
        except SlackCallFailed as exc:
            if WHOLE_APP.get(exc.error) == CREDENTIALS:  # the token, not the check, is the trouble
                raise ChannelUnavailable(CREDENTIALS, exc.error) from exc
            if exc.error in HISTORY_HIDDEN:
                raise Unverifiable(exc.error) from exc
            if exc.status == 429 or exc.error == "ratelimited":
                raise RetryLater(exc.retry_after, f"Slack rate limit on {exc.method}") from exc
            problem = f"HTTP {exc.status}" if exc.status >= 500 else exc.error
            raise TransientError(f"Slack history unavailable: {problem}") from exc
        except SlackUnreachable as exc:
            raise TransientError(f"Slack history unavailable: {exc.reason}") from exc

    def _in_thread(self, channel: str, ts: str, key: str) -> str | None:
        try:
            thread = self.client.replies(channel, ts, limit=HISTORY_PAGE, include_all_metadata=True)
        except SlackCallFailed as exc:
            if exc.error in POST_GONE:  # no thread: the reply went out as a post of its own, if at all
                return None
            raise
        return _with_key(channel, thread.get("messages", []), key)

    def _in_history(self, target: str, key: str) -> str | None:
        channel = target
        if not channel.startswith(("C", "G")):  # a user id: its DM conversation
            channel = self.client.open_conversation(channel)["channel"]["id"]
        history = self.client.history(channel, limit=HISTORY_PAGE, include_all_metadata=True)
        return _with_key(channel, history.get("messages", []), key)

    def _post(self, message: OutgoingMessage) -> tuple[dict[str, Any], tuple[SlackMessage, ...]]:
        """chat.postMessage's arguments for the message, and the further posts for its thread;
        rendered once for all who read the same (a fan-out's direct messages in one language)."""
        kwargs, thread = self.same_for_all.get(
            message, message.recipient is not None, lambda: self._render(message)
        )
        return dict(kwargs), thread

    def _render(self, message: OutgoingMessage) -> tuple[dict[str, Any], tuple[SlackMessage, ...]]:
        body = render(self.renderer, message, fmt="mrkdwn")
        if message.session is not None and message.kind in POST_KINDS:
            post = session_post(
                self.renderer,
                self.labels,
                message.kind,
                message.series,
                message.session,
                language=message.language,
                direct=message.recipient is not None,
                body=body.body,
            )
            return post.as_kwargs(), post.thread
        return {"text": f"*{escape_mrkdwn(body.subject)}*\n{body.body}", "unfurl_links": False}, ()


def _living_post(message: OutgoingMessage) -> tuple[str, str] | None:
    """(channel, ts) of the invitation post this message belongs to, if it is in a channel."""
    if message.recipient is not None or not message.first_ref or ":" not in message.first_ref:
        return None
    channel, _, ts = message.first_ref.partition(":")
    return (channel, ts) if channel == message.target and ts else None


def _with_key(channel: str, posts: list[dict[str, Any]], key: str) -> str | None:
    for post in posts:
        metadata = post.get("metadata") or {}
        if (
            metadata.get("event_type") == METADATA_TYPE
            and metadata.get("event_payload", {}).get("key") == key
        ):
            return f"{channel}:{post.get('ts')}"
    return None


def _outcome(exc: SlackCallFailed, target: str) -> Exception:
    if exc.status == 429 or exc.error == "ratelimited":
        return RetryLater(exc.retry_after, f"Slack rate limit ({exc.error})")
    if exc.status >= 500:
        return TransientError(f"Slack HTTP {exc.status}", in_doubt=True)
    if exc.error in WHOLE_APP:
        needed = exc.body.get("needed")  # missing_scope names the scope
        reason = f"{exc.error} ({needed})" if isinstance(needed, str) and needed else exc.error
        return ChannelUnavailable(WHOLE_APP[exc.error], reason)
    if exc.error in CHANNEL_CLOSED and _is_conversation(target):
        return ChannelUnavailable(TARGET_CLOSED, exc.error, target=target)
    if exc.error in PERMANENT:
        return PermanentError(f"Slack refused: {exc.error}")
    return TransientError(f"Slack answered {exc.error}")


def _is_conversation(target: str) -> bool:
    """A channel the bot posts in (public C…, private G…), not a person's direct messages (U…/W…)."""
    return target.startswith(("C", "G"))


def _direct(kind: str, chose_direct: bool) -> bool:
    """Whether a person with a Slack account gets `kind` as a direct message: organisers' notices
    always, messages to subscribers when they chose direct messages."""
    return kind in kinds.ORGANISERS or (kind in kinds.PUBLIC and chose_direct)


def _deactivated(message: OutgoingMessage) -> bool:
    """A direct message planned while its person was active, whose Slack user has been deactivated
    since (the recipient's identities hold only active ones): it must not go out."""
    person = message.recipient
    return (
        person is not None
        and message.target.startswith(("U", "W"))
        and (person.identities.get("slack") != message.target)
    )
