"""Bolt listeners: each acks first (a view submission acks with its result), then checks the request
is new (`Replays`), then hands over to `SlackChannel`. All registration is here, in one place."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack
from slack_bolt import App as BoltApp

from bot.slack import actions as ids
from bot.slack.channel import SlackChannel
from bot.slack.translate import button_command, changes_subscription, command_of, modal_request

Body = dict[str, Any]


def register(bolt: BoltApp, channel: SlackChannel) -> None:
    def slash_command(ack: Ack, body: Body) -> None:
        ack()
        if not channel.replays.first_time(body):
            return
        user = channel.directory.user(body["user_id"], body.get("user_name"))
        text = str(body.get("text") or "")
        modal = modal_request(text)
        if modal is not None:
            refusal = channel.open_modal(
                body["trigger_id"], user, modal.form, series=modal.series, session_id=modal.session_id
            )
            if refusal is not None:
                channel.respond(body.get("response_url"), refusal)
            return
        command = command_of(text)
        channel.respond(body.get("response_url"), channel.execute(user, command))
        if changes_subscription(command):
            channel.publish_home(user)

    def subscription_button(ack: Ack, body: Body) -> None:
        ack()
        if not channel.replays.first_time(body):
            return
        user = channel.directory.user(body["user"]["id"], body["user"].get("name"))
        command = button_command(body["actions"][0])
        if command is None:
            return
        text = channel.execute(user, command)
        if body.get("container", {}).get("type") == "message":
            channel.respond(body.get("response_url"), text)
        channel.publish_home(user)

    def modal_button(ack: Ack, body: Body) -> None:
        ack()
        if not channel.replays.first_time(body):
            return
        user = channel.directory.user(body["user"]["id"], body["user"].get("name"))
        action = body["actions"][0]
        value = str(action.get("value") or "")
        if action["action_id"] == ids.PLAN_SESSION:
            refusal = channel.open_modal(body["trigger_id"], user, ids.SESSION_FORM, series=value or None)
        else:
            form = ids.SESSION_FORM if action["action_id"] == ids.EDIT_SESSION else ids.LINK_FORM
            session_id = int(value) if value.isdigit() else -1
            refusal = channel.open_modal(body["trigger_id"], user, form, session_id=session_id)
        if refusal is not None:
            channel.open_notice(body["trigger_id"], user, refusal)

    def plan_shortcut(ack: Ack, body: Body) -> None:
        ack()
        if not channel.replays.first_time(body):
            return
        user = channel.directory.user(body["user"]["id"], body["user"].get("username"))
        refusal = channel.open_modal(body["trigger_id"], user, ids.SESSION_FORM)
        if refusal is not None:
            channel.open_notice(body["trigger_id"], user, refusal)

    def form_submitted(ack: Ack, body: Body) -> None:
        if not channel.replays.first_time(body):
            ack()
            return
        user = channel.directory.user(body["user"]["id"], body["user"].get("name"), allow_stale=True)
        view = body["view"]
        ack(**channel.submit(view["callback_id"], view, user))
        channel.publish_home(user)

    def home_opened(body: Body, event: Body) -> None:
        if event.get("tab") != "home" or not channel.replays.first_time(body):
            return
        channel.publish_home(channel.directory.user(event["user"]))

    def link_clicked(ack: Ack) -> None:
        ack()  # a URL button: the browser opens the link; Slack only wants to hear it was received

    bolt.command(ids.COMMAND)(slash_command)
    bolt.action(re.compile(f"^({ids.SUBSCRIBE}|{ids.UNSUBSCRIBE})$"))(subscription_button)
    bolt.action(re.compile(f"^({ids.PLAN_SESSION}|{ids.EDIT_SESSION}|{ids.ADD_LINK})$"))(modal_button)
    bolt.action(ids.OPEN_LINK)(link_clicked)
    bolt.shortcut(ids.PLAN_SHORTCUT)(plan_shortcut)
    bolt.view(re.compile(f"^({ids.SESSION_FORM}|{ids.LINK_FORM})$"))(form_submitted)
    bolt.event("app_home_opened")(home_opened)
