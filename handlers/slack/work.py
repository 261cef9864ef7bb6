"""What the inbox worker does with each kind of Slack request once it was acked and recorded
(`handlers/slack/intake.py`): who the user is, carrying out their command, the ephemeral answer through
the response_url, App Home, the organiser modals."""

from __future__ import annotations

from typing import Any

from bot.bounds import parse_id
from bot.db import Batch
from bot.inbox import Batchable, Effect, Executed, Step, Work
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
            intake.COMMAND: Batchable(self.command_step, otherwise=self.form_command),
            intake.SUBSCRIPTION_BUTTON: Batchable(self.button_step, otherwise=self.ignored),
            intake.MODAL_BUTTON: self.modal_button,
            intake.SHORTCUT: self.plan_shortcut,
            intake.HOME_OPENED: self.home_opened,
            intake.SUBMISSION: self.submission,
            intake.USER_CHANGED: self.user_changed,
        }

    def command_step(self, body: Body) -> Step | None:
        """A slash command (not a form): who the user is, before any transaction; then its command,
        and after the commit the answer at the response_url (and App Home when it changes)."""
        text = str(body.get("text") or "")
        if modal_request(text) is not None:
            return None
        channel = self.channel
        user = channel.directory.user(body["user_id"], body.get("user_name"))
        command = command_of(text)
        home = user if changes_subscription(command) else None

        def step(batch: Batch | None, executed: Executed) -> Effect:
            reply = channel.dispatch(user, command, within=executed, batch=batch)
            return lambda: channel.answer(body.get("response_url"), channel.render(reply), home=home)

        return step

    def form_command(self, body: Body, _executed: Executed) -> None:
        """A slash command that opens an organiser's form (which may wait for who they are)."""
        channel = self.channel
        modal = modal_request(str(body.get("text") or ""))
        assert modal is not None  # the only slash commands `command_step` leaves here
        user = channel.directory.user(body["user_id"], body.get("user_name"), patient=True)
        channel.show_modal(body, user, modal.form, series=modal.series, session_id=modal.session_id)

    def button_step(self, body: Body) -> Step | None:
        """«Meld meg på» / «Meld meg av» in a message or on App Home: as `command_step`; the answer
        at the response_url only for a message, App Home published again either way."""
        command = button_command(body["actions"][0])
        if command is None:
            return None
        channel = self.channel
        user = channel.directory.user(body["user"]["id"], body["user"].get("name"))
        container = body.get("container", {}).get("type")
        in_message = container == "message"
        on_home = container == "view"

        def step(batch: Batch | None, executed: Executed) -> Effect:
            reply = channel.dispatch(user, command, within=executed, batch=batch)

            def answer() -> None:
                text = channel.render(reply) if in_message else None
                channel.answer(body.get("response_url"), text, home=user, on_home=on_home)

            return answer

        return step

    def ignored(self, _body: Body, _executed: Executed) -> None:
        """A button whose value names no command: nothing to do."""

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
