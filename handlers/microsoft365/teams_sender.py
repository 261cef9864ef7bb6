"""The Teams channel ("teams") for the delivery engine: one post per message in the network's
channel (as the signed-in service account; an Adaptive Card with buttons, see card.py), and a
personal activity-feed notification for every recipient with a Teams identity (app-only;
`platform="teams"`, external id = Entra object id)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from bot.delivery import kinds
from bot.delivery.channels import (
    Headcount,
    OutgoingMessage,
    Pace,
    PermanentError,
    Recipient,
    RetryLater,
    Target,
    TransientError,
)
from bot.delivery.messages import context, render
from bot.html_text import text_as_html
from bot.rendering import Renderer
from bot.views import SeriesView
from handlers.microsoft365.card import CardLabels, CardPost, attachment_id, session_card
from handlers.microsoft365.errors import (
    GraphAuthError,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    GraphUnavailable,
    Health,
    LoginNeeded,
    paused_by,
)
from handlers.microsoft365.html import html_to_text
from handlers.microsoft365.meeting_parts import EnsureMeeting, with_join_link
from handlers.microsoft365.teams import TeamsApi

log = logging.getLogger(__name__)

CHANNEL = "channel"
USER = "user:"
ACTIVITY_PACE = Pace("teams:activity", timedelta(milliseconds=200))
# Every activity-feed notification: one app permission (TeamsActivity.Send) allows them all, so a
# refusal holds them back together while the channel's posts (the service account's) go on.
EVERY_USER = USER + "*"
WAIT_FOR_LOGIN = 300.0


class TeamsSender:
    channel = "teams"
    in_flight = 1
    bulk_most = 100  # recipients of one sendActivityNotificationToRecipients

    def __init__(
        self,
        renderer: Renderer,
        api: TeamsApi,
        health: Health,
        self_id: Callable[[], str | None],
        ensure_meeting: EnsureMeeting | None = None,
        public_base_url: str | None = None,
    ) -> None:
        self.renderer, self.api, self.health, self.self_id = renderer, api, health, self_id
        self.ensure_meeting, self.public_base_url = ensure_meeting, public_base_url
        self.labels = CardLabels(renderer, api.settings.command_prefix)

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        targets = [Target(CHANNEL, series.language)] if kind in kinds.PUBLIC and self.api.has_channel else []
        targets += [
            Target(f"{USER}{r.identities['teams']}", r.language, r.person_id)
            for r in recipients
            if r.identities.get("teams")
        ]
        return targets

    def paced_sends(self, kind: str, series: SeriesView, headcount: Headcount) -> list[tuple[Pace, int]]:
        """`audience`'s activity notices on their pace (the one channel post has a pace of its own)."""
        return [(ACTIVITY_PACE, headcount.people(lambda p: "teams" in p.platforms))]

    def pacing(self, target: str) -> list[Pace]:
        """Graph's limits: 4 requests a second per channel (one a second keeps clear of it), and 5
        a second per app for the activity feed of one person."""
        if target == CHANNEL:
            return [Pace(f"teams:channel:{self.api.settings.channel_id}", timedelta(seconds=1))]
        return [ACTIVITY_PACE]

    def bulk_pacing(self) -> list[Pace]:
        """Graph allows 2 bulk activity notifications a second per app and tenant."""
        return [Pace("teams:activity-bulk", timedelta(milliseconds=500))]

    def bulk_key(self, message: OutgoingMessage) -> str | None:
        """Activity notifications with the same text go in one call; channel posts alone."""
        if message.target == CHANNEL or message.recipient is None:
            return None
        session = message.session
        same = [
            message.kind,
            message.series.id,
            message.language,
            session.id if session else None,
            session.join_url if session else None,
            message.payload,
        ]
        return hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()

    def send(self, message: OutgoingMessage) -> str | None:
        message = with_join_link(message, self.ensure_meeting)
        ref: str | None = None
        with self._outcome(message):
            if message.target == CHANNEL:
                ref = f"channel:{self.api.post_card(self.card(message), wait_when_throttled=False)}"
            else:
                title, preview, web_url = self._notification(message)
                self.api.notify(
                    message.target.removeprefix(USER), title=title, preview=preview, web_url=web_url
                )
        return ref

    def send_many(self, messages: Sequence[OutgoingMessage]) -> None:
        """One activity notification to every person of `messages` (at most 100, the same text)."""
        first = with_join_link(messages[0], self.ensure_meeting)
        title, preview, web_url = self._notification(first)
        users = [m.target.removeprefix(USER) for m in messages]
        with self._outcome(first):
            self.api.notify_many(users, title=title, preview=preview, web_url=web_url)

    def _notification(self, message: OutgoingMessage) -> tuple[str, str, str]:
        subject, content = self.post(message)
        return subject, html_to_text(content)[:150], self._link(message)

    @contextmanager
    def _outcome(self, message: OutgoingMessage) -> Iterator[None]:
        """Graph's answers as the engine's outcomes."""
        try:
            yield
        except LoginNeeded as exc:
            raise RetryLater(WAIT_FOR_LOGIN, f"waiting for a Teams login: {exc}") from exc
        except GraphThrottled as exc:
            raise RetryLater(exc.retry_after, str(exc), in_doubt=exc.in_doubt) from exc
        except GraphUnavailable as exc:
            raise TransientError(str(exc), in_doubt=exc.in_doubt) from exc
        except GraphNotFound as exc:
            raise PermanentError(f"{exc} (is the Teams app installed for this user?)") from exc
        except GraphAuthError as exc:
            self.health.report(_area(message), str(exc))  # for `teams status`, until one gets through
            raise paused_by(exc, target=CHANNEL if message.target == CHANNEL else EVERY_USER) from exc
        except GraphError as exc:
            raise PermanentError(str(exc)) from exc
        self.health.clear(_area(message))

    def post(self, message: OutgoingMessage) -> tuple[str, str]:
        """The subject and the HTML body (user text escaped) of a message: the activity feed's preview."""
        rendered = render(self.renderer, message)
        if self.renderer.has(f"messages/{message.kind}.html", language=message.language):
            data = context(
                message,
                layout="teams",
                subject=rendered.subject,
                unsubscribe_url=None,
                command_prefix=self.api.settings.command_prefix,
            )
            options = {"language": message.language, "timezone": message.series.timezone}
            return rendered.subject, self.renderer.render(
                f"messages/{message.kind}.html", data, fmt="html", **options
            )
        return rendered.subject, text_as_html(rendered.body)

    def card(self, message: OutgoingMessage) -> CardPost:
        """The channel post: the message's text in a card with its buttons."""
        prefix = self.api.settings.command_prefix
        rendered = render(self.renderer, message, command_prefix=prefix)
        return session_card(
            message.key,
            message.kind,
            rendered.subject,
            rendered.body,
            self.labels.of(message.language),
            message.series,
            message.session,
            self.public_base_url,
        )

    def find_sent(self, message: OutgoingMessage) -> str | None:
        """A channel post in doubt: among the channel's newest threads, one by us holding the card
        made for this delivery (its id comes from the delivery key). Activity notifications cannot
        be looked up (a repeat is harmless)."""
        if message.target != CHANNEL:
            return None
        wanted, me = attachment_id(message.key), self.self_id()
        try:
            for post in self.api.recent_channel_posts():
                author = ((post.get("from") or {}).get("user") or {}).get("id")
                ids = {a.get("id") for a in post.get("attachments") or [] if isinstance(a, dict)}
                if author == me and wanted in ids:
                    return f"channel:{post.get('id')}"
        except (GraphError, LoginNeeded) as exc:
            log.warning("Teams: cannot check whether a post went out (%s); it is sent again", exc)
        return None

    def _link(self, message: OutgoingMessage) -> str:
        """Where a click on the notification leads: the Teams meeting, else Teams itself."""
        join_url = message.session.join_url if message.session is not None else None
        home = self.api.settings.teams_web_url  # the cloud's Teams (settings: national clouds)
        if join_url and join_url.startswith(f"{home}/"):  # Teams accepts only its own links here
            return join_url
        return home


def _area(message: OutgoingMessage) -> str:
    """The health area of a send: the channel's posts and the activity feed fail apart."""
    return "teams channel posts" if message.target == CHANNEL else "teams activity feed"
