"""Bolt listeners: each acks, hands the request to the inbox and returns (the inbox worker carries it
out: `handlers/slack/work.py`); the HTTP answer goes back when the listener returns, so a listener never
waits on Slack or on other work.
A modal submission is the exception: its answer is the ack (field errors or the next view), so it is
carried out here; the App Home refresh after it is left to the inbox worker. All registration is in
this one place."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack
from slack_bolt import App as BoltApp

from bot.dispatch import Reply
from handlers.slack import actions as ids
from handlers.slack import intake
from handlers.slack.conversation import SlackConversation
from handlers.slack.intake import Intake

Body = dict[str, Any]
# The payload types whose listener is carried out before its answer (the answer is the outcome), so
# it reads and writes the database and may ask Slack who the user is; every other listener only
# acks and queues. `handlers/slack/bolt_app.py` dispatches these in the thread pool, the rest on the loop.
CARRIED_OUT_ON_THE_SPOT = frozenset({"view_submission"})


def register(bolt: BoltApp, channel: SlackConversation, requests: Intake) -> None:
    def recorded(kind: str) -> Any:
        def listener(ack: Ack, body: Body) -> None:
            ack()
            requests.submit(kind, body, on_failure=lambda: _unavailable(channel, body))

        return listener

    def form_submitted(ack: Ack, body: Body) -> None:
        if not requests.first_time("view_submission", body):
            ack()
            return
        user = channel.directory.user(body["user"]["id"], body["user"].get("name"), allow_stale=True)
        view = body["view"]
        ack(**channel.submit(view["callback_id"], view, user))
        requests.refresh_home(body)

    def home_opened(body: Body, event: Body) -> None:  # Bolt acks events itself
        if event.get("tab") == "home":
            requests.submit(intake.HOME_OPENED, body)

    def link_clicked(ack: Ack) -> None:
        ack()  # a URL button: the browser opens the link; Slack only wants to hear it was received

    bolt.command(ids.COMMAND)(recorded(intake.COMMAND))
    subscription = "|".join((ids.SUBSCRIBE, ids.UNSUBSCRIBE, ids.DIRECT_ON, ids.DIRECT_OFF))
    bolt.action(re.compile(f"^({subscription})$"))(recorded(intake.SUBSCRIPTION_BUTTON))
    bolt.action(re.compile(f"^({ids.PLAN_SESSION}|{ids.EDIT_SESSION}|{ids.ADD_LINK})$"))(
        recorded(intake.MODAL_BUTTON)
    )
    bolt.action(ids.OPEN_LINK)(link_clicked)
    bolt.shortcut(ids.PLAN_SHORTCUT)(recorded(intake.SHORTCUT))
    bolt.view(re.compile(f"^({ids.SESSION_FORM}|{ids.LINK_FORM})$"))(form_submitted)
    bolt.event("app_home_opened")(home_opened)


def _unavailable(channel: SlackConversation, body: Body) -> None:
    """The request could not be recorded: say so where the user will see it."""
    config = channel.core.config
    text = channel.render(Reply("unavailable", {}, config.language, config.timezone))
    channel.respond(body.get("response_url"), text)
