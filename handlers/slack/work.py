"""What the inbox worker does with each kind of Slack request once it was acked and recorded
(`handlers/slack/intake.py`): who the user is, carrying out their command, the ephemeral answer through
the response_url, App Home, the organiser modals."""

from __future__ import annotations

from typing import Any

from bot.bounds import parse_id
from bot.inbox import Executed, Work
from handlers.slack import actions as ids
from handlers.slack import intake
from handlers.slack.conversation import SlackConversation
from handlers.slack.translate import button_command, changes_subscription, command_of, modal_request

Body = dict[str, Any]


class SlackWork:
    def __init__(self, channel: SlackConversation) -> None:
        self.channel = channel

    def table(self) -> dict[str, Work]:
        """The inbox worker's work for each kind of Slack request."""
        return {
            intake.COMMAND: self.slash_command,
            intake.SUBSCRIPTION_BUTTON: self.subscription_button,
            intake.MODAL_BUTTON: self.modal_button,
            intake.SHORTCUT: self.plan_shortcut,
            intake.HOME_OPENED: self.home_opened,
            intake.SUBMISSION: self.submission,
            intake.USER_CHANGED: self.user_changed,
        }

    def slash_command(self, body: Body, executed: Executed) -> None:
        channel = self.channel
        text = str(body.get("text") or "")
        modal = modal_request(text)  # an organiser's form may wait for who they are; a command not
        user = channel.directory.user(body["user_id"], body.get("user_name"), patient=modal is not None)
        if modal is not None:
            channel.show_modal(body, user, modal.form, series=modal.series, session_id=modal.session_id)
            return
        command = command_of(text)
        reply = channel.execute(user, command, within=executed)
        channel.answer(body.get("response_url"), reply, home=user if changes_subscription(command) else None)

    def subscription_button(self, body: Body, executed: Executed) -> None:
        channel = self.channel
        user = channel.directory.user(body["user"]["id"], body["user"].get("name"))
        command = button_command(body["actions"][0])
        if command is None:
            return
        text = channel.execute(user, command, within=executed)
        container = body.get("container", {}).get("type")
        in_message = container == "message"
        on_home = container == "view"
        channel.answer(body.get("response_url"), text if in_message else None, home=user, on_home=on_home)

    def modal_button(self, body: Body, _executed: Executed) -> None:
        channel = self.channel
        user = channel.directory.user(body["user"]["id"], body["user"].get("name"), patient=True)
        action = body["actions"][0]
        value = str(action.get("value") or "")
        if action["action_id"] == ids.PLAN_SESSION:
            channel.show_modal(body, user, ids.SESSION_FORM, series=value or None)
        else:
            form = ids.SESSION_FORM if action["action_id"] == ids.EDIT_SESSION else ids.LINK_FORM
            session_id = parse_id(value) or -1
            channel.show_modal(body, user, form, session_id=session_id)

    def plan_shortcut(self, body: Body, _executed: Executed) -> None:
        channel = self.channel
        user = channel.directory.user(body["user"]["id"], body["user"].get("username"), patient=True)
        channel.show_modal(body, user, ids.SESSION_FORM)

    def submission(self, body: Body, executed: Executed) -> None:
        """A modal submission, checked and answered on the ack path: carried out, the modal updated
        with the outcome, and the user's App Home published again (if it is seen)."""
        channel = self.channel
        user = channel.directory.user(body["user"]["id"], body["user"].get("name"), patient=True)
        channel.apply_submission(body["view"], user, intake.outcome_view_id(body), within=executed)
        channel.homes.refresh(user)

    def home_opened(self, body: Body, _executed: Executed) -> None:
        event = body.get("event") or {}
        self.channel.homes.opened(self.channel.directory.user(event["user"]))

    def user_changed(self, body: Body, executed: Executed) -> None:
        """`user_change`: a user deactivated in the workspace (`deleted`) gets no more DMs; one
        reactivated gets them again. Other changes of a profile change nothing here."""
        user = (body.get("event") or {}).get("user") or {}
        deleted = user.get("deleted")
        if isinstance(user.get("id"), str) and isinstance(deleted, bool):
            self.channel.account_changed(user["id"], active=not deleted, within=executed)
