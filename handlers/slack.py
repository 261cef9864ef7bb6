"""The Slack channel: `POST /slack/events` on the shared web server (HTTP mode), or a Socket Mode
connection when SLACK_APP_TOKEN is set. Only wiring: the translation lives in `bot.slack`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.routing import BaseRoute

from bot.app import App
from bot.delivery.channels import Sender
from bot.inbox import Work
from bot.slack.bolt_app import SocketModeConnection, build_bolt, check_token_in_background, events_route
from bot.slack.channel import SlackChannel
from bot.slack.client import make_web_client, sending_client
from bot.slack.sender import SlackSender
from bot.slack.work import SlackWork


def routes(app: App) -> Sequence[BaseRoute]:
    """HTTP mode: the one Request URL for events, slash commands and interactivity."""
    settings = app.settings.slack
    if settings is None or settings.socket_mode:
        return []
    return [events_route(build_bolt(app, settings, make_web_client(settings)))]


def work(app: App) -> Mapping[str, Work]:
    """What the inbox worker does with the requests the listeners acked and recorded."""
    settings = app.settings.slack
    if settings is None:
        return {}
    return SlackWork(SlackChannel(app, make_web_client(settings))).table()


def senders(app: App) -> Sequence[Sender]:
    """Posts to SLACK_CHANNEL_ID and direct messages, driven by the delivery engine."""
    settings = app.settings.slack
    if settings is None:
        return []
    return [SlackSender(sending_client(settings), settings, app.settings.limits, app.renderer)]


def start(app: App) -> SocketModeConnection | None:
    """A check of the bot token (one log line if refused), and Socket Mode when an app token is set."""
    settings = app.settings.slack
    if settings is None:
        return None
    client = make_web_client(settings)
    check_token_in_background(client)
    if settings.app_token is None:
        return None
    return SocketModeConnection(build_bolt(app, settings, client), settings.app_token, client).start()
