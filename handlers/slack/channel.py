"""Slack as a `Channel`: `POST /slack/events` on the shared web server (HTTP mode) or a Socket Mode
connection (SLACK_APP_TOKEN), the inbox work behind its acks, and the sender for posts and DMs."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from slack_bolt import BoltResponse
from starlette.routing import BaseRoute

from bot.channel import Channel
from bot.core import Core
from bot.delivery.channels import Sender
from bot.dispatch import Reply
from bot.inbox import Work
from handlers.slack import NAME, TEMPLATES
from handlers.slack.announcement import join_in_background
from handlers.slack.bolt_app import (
    SlackApp,
    SocketModeConnection,
    build_bolt,
    check_token_in_background,
    events_route,
)
from handlers.slack.client import api_client, make_web_client, sending_client
from handlers.slack.conversation import SlackConversation
from handlers.slack.sender import SlackSender
from handlers.slack.settings import SlackSettings
from handlers.slack.verification import clocked_verifier
from handlers.slack.work import SlackWork

log = logging.getLogger(__name__)


class SlackChannel(Channel):
    name = NAME
    templates = TEMPLATES

    def __init__(self, core: Core, settings: SlackSettings, *, socket_backoff_seconds: float = 1.0) -> None:
        self.core, self.settings = core, settings
        self.socket_backoff_seconds = socket_backoff_seconds  # Socket Mode's first pause after a failure
        self.client = make_web_client(settings)
        self.api = api_client(settings)  # users.info and views.publish: kept alive, never waiting a 429
        self.conversation = SlackConversation(core, self.client, self.api)
        self.socket: SocketModeConnection | None = None

    def health(self) -> str:
        """ "on"; in Socket Mode "connecting" or "reconnecting (<why>)" until connected."""
        return self.socket.state() if self.socket is not None else "on"

    def routes(self) -> Sequence[BaseRoute]:
        """HTTP mode: the one Request URL for events, slash commands and interactivity."""
        if self.settings.socket_mode:
            return []
        verifier = clocked_verifier(self.settings.signing_secret, self.core.clock)
        return [events_route(self.slack_app(), verifier)]

    def work(self) -> Mapping[str, Work]:
        return SlackWork(self.conversation).table()

    def apologise(self, kind: str, payload: Mapping[str, Any]) -> None:
        """The generic error where the user acted: in the modal opened or submitted, else ephemerally
        through the response_url (when Slack gave one)."""
        self.conversation.unavailable(dict(payload), self._generic_error())

    def senders(self) -> Sequence[Sender]:
        """Posts to SLACK_CHANNEL_ID and direct messages, driven by the delivery engine."""
        client = sending_client(self.settings)
        return [SlackSender(client, self.settings, self.core.renderer, sleep=self.core.clock.sleep)]

    def start(self) -> None:
        """A check of the bot token (one log line if refused), the bot into the announcement channel
        (to read its posts back), and Socket Mode when an app token is set."""
        check_token_in_background(self.client)
        if self.settings.channel_id:
            join_in_background(self.client, self.settings.channel_id)
        if self.settings.app_token is not None:
            self.socket = SocketModeConnection(
                self.slack_app().bolt,
                self.settings.app_token,
                self.client,
                self.core.errors,
                backoff_seconds=self.socket_backoff_seconds,
            ).start()

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.stop()
            self.socket = None
        self.conversation.close()
        self.api.close()

    def slack_app(self) -> SlackApp:
        """A Bolt app with the listeners, and the command's listener for the Request URL (new each call)."""
        return build_bolt(self.core, self.settings, self.client, self.conversation, self.listener_failed)

    def listener_failed(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        """A listener raised before its ack (Bolt's error handler): the error policy, and the generic
        error as the answer to a slash command (other requests get an empty 200)."""
        self.core.errors.unexpected(f"listener slack.{body.get('type') or 'command'}", error)
        if body.get("command"):
            text = json.dumps({"response_type": "ephemeral", "text": self._generic_error()})
            return BoltResponse(status=200, body=text, headers={"content-type": "application/json"})
        return BoltResponse(status=200, body="")

    def _generic_error(self) -> str:
        config = self.core.config
        return self.conversation.render(Reply("error", {}, config.language, config.timezone))
