"""Slack's outgoing side for the delivery engine: posts to the announcement channel and direct messages.

The engine owns timing, pacing and once-only delivery; this module only maps one message to one
chat.postMessage and Slack's answers to the engine's outcomes. Each post carries the delivery key as
message metadata, so a post in doubt after a crash is looked up in the channel's history before it
is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx

from bot.delivery import kinds
from bot.delivery.channels import (
    OutgoingMessage,
    Pace,
    PermanentError,
    Recipient,
    RetryLater,
    Target,
    TransientError,
)
from bot.delivery.messages import render
from bot.rendering import Renderer, escape_mrkdwn
from bot.views import SeriesView
from handlers.slack.labels import Labels
from handlers.slack.posts import KINDS as POST_KINDS
from handlers.slack.posts import session_post
from handlers.slack.settings import SlackSettings
from handlers.slack.web_api import SlackCallFailed, SlackWebAPI

log = logging.getLogger(__name__)

METADATA_TYPE = "baerekraft_delivery"
# Answers no retry can fix: the token, the channel or the user is wrong.
PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "cannot_dm_bot",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
    }
)
HISTORY_PAGE = 200
WORKSPACE_PACE = "slack:workspace"
# Slack allows short bursts: across the workspace a send may run two intervals ahead of the steady
# pace, so one that was late (a slow answer, a busy machine) is caught up instead of lost.
WORKSPACE_BURST = 3


class SlackSender:
    channel = "slack"

    def __init__(self, client: SlackWebAPI, settings: SlackSettings, renderer: Renderer) -> None:
        self.client, self.settings, self.renderer = client, settings, renderer
        self.labels = Labels(renderer)
        self.interval = timedelta(seconds=1 / settings.rate_per_second)
        self.workspace_interval = timedelta(seconds=60 / settings.workspace_rate_per_minute)
        self.in_flight = settings.sends_in_flight

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        """The announcement channel for public messages; a DM to each person who chose DMs (public
        messages) or who organises the series (organiser notices) and has a Slack identity."""
        targets: list[Target] = []
        if kind in kinds.PUBLIC and self.settings.channel_id:
            targets.append(Target(self.settings.channel_id, series.language))
        for person in recipients:
            user = person.identities.get("slack")
            wants = kind in kinds.ORGANISERS or (kind in kinds.PUBLIC and person.direct)
            if user and wants:
                targets.append(Target(user, person.language, person.person_id))
        return targets

    def pacing(self, target: str) -> list[Pace]:
        """Slack's pace per channel (a DM is a channel of its own) and its cap for the whole workspace."""
        return [
            Pace(f"slack:{target}", self.interval),
            Pace(WORKSPACE_PACE, self.workspace_interval, WORKSPACE_BURST),
        ]

    def send(self, message: OutgoingMessage) -> str | None:
        kwargs = self._post(message)
        try:
            answer = self.client.post_message(
                message.target,
                metadata={"event_type": METADATA_TYPE, "event_payload": {"key": message.key}},
                **kwargs,
            )
        except SlackCallFailed as exc:
            raise _outcome(exc) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # no connection: nothing was sent
            raise TransientError(f"Slack unreachable: {type(exc).__name__}") from exc
        except (httpx.RequestError, OSError) as exc:
            raise TransientError(f"Slack unreachable: {type(exc).__name__}", in_doubt=True) from exc
        return f"{answer.get('channel')}:{answer.get('ts')}"

    def find_sent(self, message: OutgoingMessage) -> str | None:
        """The post with this delivery's key in the target's recent history, if it went out."""
        try:
            channel = message.target
            if not channel.startswith(("C", "G")):  # a user id: its DM conversation
                channel = self.client.open_conversation(channel)["channel"]["id"]
            history = self.client.history(channel, limit=HISTORY_PAGE, include_all_metadata=True)
        except (SlackCallFailed, httpx.RequestError, OSError) as exc:
            raise TransientError(f"Slack history unavailable: {type(exc).__name__}") from exc
        posts: list[dict[str, Any]] = history.get("messages", [])
        for post in posts:
            metadata = post.get("metadata") or {}
            if (
                metadata.get("event_type") == METADATA_TYPE
                and metadata.get("event_payload", {}).get("key") == message.key
            ):
                return f"{channel}:{post.get('ts')}"
        return None

    def _post(self, message: OutgoingMessage) -> dict[str, Any]:
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
            return post.as_kwargs()
        return {"text": f"*{escape_mrkdwn(body.subject)}*\n{body.body}", "unfurl_links": False}


def _outcome(exc: SlackCallFailed) -> Exception:
    if exc.status == 429 or exc.error == "ratelimited":
        return RetryLater(exc.retry_after, f"Slack rate limit ({exc.error})")
    if exc.status >= 500:
        return TransientError(f"Slack HTTP {exc.status}", in_doubt=True)
    if exc.error in PERMANENT:
        return PermanentError(f"Slack refused: {exc.error}")
    return TransientError(f"Slack answered {exc.error}")
