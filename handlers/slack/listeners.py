"""Bolt listeners: each acks, hands the request to the inbox and returns (the inbox worker carries it
out: `handlers/slack/work.py`); the HTTP answer goes back when the listener returns, so a listener never
waits on other work. Two wait on one thing before their answer:
- a request that opens an organiser modal opens it first (views.open, one short try), as its trigger
  id lives 3 s (`handlers/slack/opening.py`); the inbox worker fills it in;
- a modal submission is checked from its payload alone (field errors are the answer) and recorded at
  once, so a second identical submission is recognised; its answer pushes a notice onto the form,
  which the inbox worker replaces with the outcome.
All registration is in this one place. The slash command's listener is also what the Request URL
calls itself for a command that waits on nothing (`handlers/slack/bolt_app.py:events_route`): one
listener for a command, whether Bolt or the route runs it."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from slack_bolt import Ack
from slack_bolt import App as BoltApp

from bot.dispatch import Reply
from handlers.slack import actions as ids
from handlers.slack import intake
from handlers.slack.conversation import SlackConversation
from handlers.slack.intake import Intake
from handlers.slack.opening import ModalOpener
from handlers.slack.submissions import refusal_block
from handlers.slack.translate import modal_request

Body = dict[str, Any]
# A listener as Bolt calls it for a slash command: the `ack` to answer with, and the form's fields.
CommandListener = Callable[[Ack, Body], None]
MODAL_ACTIONS = frozenset({ids.PLAN_SESSION, ids.EDIT_SESSION, ids.ADD_LINK})


def waits_before_answering(body: object) -> bool:
    """Whether the request's listener calls Slack or the database before its answer (a modal to
    open, a submission to record): `handlers/slack/bolt_app.py` runs these in the thread pool, the
    rest on the event loop."""
    if not isinstance(body, dict):
        return False
    if body.get("command"):  # a slash command's form has no `type`
        return opens_modal(body)
    kind = body.get("type")
    if kind in ("view_submission", "shortcut"):
        return True
    if kind == "block_actions":
        return any(a.get("action_id") in MODAL_ACTIONS for a in body.get("actions") or [])
    return False


def opens_modal(command: Body) -> bool:
    """Whether a slash command asks for an organiser modal (`/baerekraft planlegg`, `lysark 3`)."""
    text = str(command.get("text") or "")
    return (_modal_request if len(text) <= CACHED_TEXT else modal_request)(text) is not None


# A command's text is read twice on the ack path (here and by the listener), and most are one of a
# few short phrases: folding the same text again cost a twentieth of an acknowledgement's CPU.
CACHED_TEXT = 100  # characters; 256 of them at most are kept
_modal_request = lru_cache(maxsize=256)(modal_request)


def register(
    bolt: BoltApp, channel: SlackConversation, requests: Intake, opener: ModalOpener
) -> CommandListener:
    """Every listener onto `bolt`; returns the slash command's (`/baerekraft`), as registered."""

    requests.when_unrecorded(lambda body: _unavailable(channel, body))

    def record(kind: str, body: Body) -> None:
        requests.submit(kind, body)

    def recorded(kind: str) -> Any:
        def listener(ack: Ack, body: Body) -> None:
            ack()
            record(kind, body)

        return listener

    def modal_opened(kind: str) -> Any:
        def listener(ack: Ack, body: Body) -> None:
            ack()
            record(kind, opener.open(body))

        return listener

    def command(ack: Ack, body: Body) -> None:
        ack()
        record(intake.COMMAND, opener.open(body) if opens_modal(body) else body)

    def form_submitted(ack: Ack, body: Body) -> None:
        view = body["view"]
        problems = channel.form_problems(view)
        if problems is not None:
            ack(**problems)
            return
        first = requests.submission(body)
        if first is None:
            text = _unavailable_text(channel)
            ack(
                response_action="errors", errors={refusal_block(view["callback_id"], "unavailable", {}): text}
            )
            return
        if first:
            ack(**channel.form_notice(view, "saving", intake.outcome_view_id(body)))
        else:
            ack(**channel.form_notice(view, "already_submitted"))

    def home_opened(body: Body, event: Body) -> None:  # Bolt acks events itself
        if event.get("tab") == "home":
            requests.submit(intake.HOME_OPENED, body)

    def user_changed(body: Body) -> None:  # any change of a profile; deactivation is one
        requests.submit(intake.USER_CHANGED, body)

    def link_clicked(ack: Ack) -> None:
        ack()  # a URL button: the browser opens the link; Slack only wants to hear it was received

    bolt.command(ids.COMMAND)(command)
    subscription = "|".join((ids.SUBSCRIBE, ids.UNSUBSCRIBE, ids.DIRECT_ON, ids.DIRECT_OFF))
    bolt.action(re.compile(f"^({subscription})$"))(recorded(intake.SUBSCRIPTION_BUTTON))
    bolt.action(re.compile(f"^({ids.PLAN_SESSION}|{ids.EDIT_SESSION}|{ids.ADD_LINK})$"))(
        modal_opened(intake.MODAL_BUTTON)
    )
    bolt.action(ids.OPEN_LINK)(link_clicked)
    bolt.shortcut(ids.PLAN_SHORTCUT)(modal_opened(intake.SHORTCUT))
    bolt.view(re.compile(f"^({ids.SESSION_FORM}|{ids.LINK_FORM})$"))(form_submitted)
    bolt.event("app_home_opened")(home_opened)
    bolt.event("user_change")(user_changed)
    return command


def _unavailable_text(channel: SlackConversation) -> str:
    config = channel.core.config
    return channel.render(Reply("unavailable", {}, config.language, config.timezone))


def _unavailable(channel: SlackConversation, body: Body) -> None:
    """The request could not be recorded: say so where the user will see it."""
    channel.unavailable(body, _unavailable_text(channel))
