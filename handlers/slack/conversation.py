"""The Slack conversation once a request was acked (see `handlers/slack/work.py`): who the user is,
carrying out their command through the dispatcher, answering (ephemeral via response_url), App Home,
and the organiser modals."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.commands import Command
from bot.core import Core
from bot.dispatch import Reply
from bot.inbox import Executed
from handlers.slack import actions as ids
from handlers.slack.access import organiser_access
from handlers.slack.blocks import INPUT_MAX
from handlers.slack.client import post_to_response_url
from handlers.slack.home import HomeView
from handlers.slack.home_data import load_home
from handlers.slack.identity import SlackDirectory, SlackUser
from handlers.slack.labels import Labels
from handlers.slack.modals import editable_description, link_modal, notice_modal, session_modal
from handlers.slack.submissions import (
    LINK_DONE,
    SESSION_DONE,
    link_submission,
    refusal_block,
    session_submission,
)

log = logging.getLogger(__name__)


class SlackConversation:
    def __init__(self, core: Core, client: WebClient, *, backoff_seconds: float = 0.5) -> None:
        self.core, self.client = core, client
        self.backoff_seconds = backoff_seconds
        self.directory = SlackDirectory(client, core.clock)
        self.labels = Labels(core.renderer)
        self.home = HomeView(core.renderer, self.labels, core.settings.public_base_url)

    # --- commands and answers ---------------------------------------------------------------------

    def execute(self, user: SlackUser, command: Command, *, within: Executed | None = None) -> str:
        """Carry `command` out for `user` (`within`: see `Dispatcher.execute`); the reply in mrkdwn,
        user text escaped."""
        reply = self.core.dispatcher.execute(user.actor(), command, within=within)
        return self.render(reply)

    def render(self, reply: Reply) -> str:
        text = self.core.renderer.reply(reply, fmt="mrkdwn")
        if reply.key == "help":
            extra = self.core.renderer.render(
                "slack/help_extra.txt", {}, language=reply.language, timezone=reply.timezone, fmt="mrkdwn"
            )
            text = f"{text}\n\n{extra}"
        return text

    def respond(self, response_url: str | None, text: str) -> None:
        """An ephemeral answer to the user who typed the command or clicked the button."""
        if not response_url:
            log.warning("Slack interaction without response_url: answer dropped")
            return
        body = {"response_type": "ephemeral", "replace_original": False, "text": text}
        post_to_response_url(response_url, body, backoff_seconds=self.backoff_seconds)

    # --- App Home ---------------------------------------------------------------------------------

    def publish_home(self, user: SlackUser) -> None:
        core = self.core
        data = load_home(core.db, core.clock, core.config, user.actor())
        timezone = user.timezone or (data.series[0].series.timezone if data.series else core.config.timezone)
        self._call("views.publish", user_id=user.user_id, view=self.home.build(data, timezone))

    # --- organiser modals -------------------------------------------------------------------------

    def open_modal(
        self,
        trigger_id: str,
        user: SlackUser,
        form: str,
        *,
        series: str | None = None,
        session_id: int | None = None,
    ) -> str | None:
        """Open the session or slides modal; returns the refusal (mrkdwn) instead when not allowed."""
        core = self.core
        access = organiser_access(
            core.db, core.clock, core.config, user.actor(), series_slug=series, session_id=session_id
        )
        if access.refusal is not None:
            return self.render(access.refusal)
        assert access.series is not None
        label = self.labels.of(access.language)
        if form == ids.LINK_FORM and access.session is not None:
            intro = self.core.renderer.render(
                "slack/session.txt",
                {"s": access.session},
                language=access.language,
                timezone=access.series.timezone,
                fmt="mrkdwn",
            )
            view = link_modal(label, access.session, intro)
        else:
            hint = self.core.renderer.render(
                "slack/time_hint.txt",
                {"timezone": access.series.timezone},
                language=access.language,
                timezone="UTC",
            )
            kept = ""
            if not editable_description(access.session):
                kept = self.core.renderer.render(
                    "slack/description_kept.txt",
                    {"s": access.session, "limit": INPUT_MAX},
                    language=access.language,
                    timezone=access.series.timezone,
                    fmt="mrkdwn",
                )
            view = session_modal(
                label,
                hint,
                series=access.series,
                session=access.session,
                series_choice=access.choices,
                description_kept=kept,
            )
        self._call("views.open", trigger_id=trigger_id, view=view)
        return None

    def open_notice(self, trigger_id: str, user: SlackUser, text: str) -> None:
        language = user.language or self.core.config.language
        self._call("views.open", trigger_id=trigger_id, view=notice_modal(self.labels.of(language), text))

    def submit(self, callback_id: str, view: dict[str, Any], user: SlackUser) -> dict[str, Any]:
        """A modal submission carried out; the `ack` arguments: field errors, or a confirmation view."""
        is_link = callback_id == ids.LINK_FORM
        submission = link_submission(view) if is_link else session_submission(view)
        language = user.language or self.core.config.language
        label = self.labels.of(language)
        if submission.command is None:
            errors = {p.block_id: label[p.label] for p in submission.problems}
            return {"response_action": "errors", "errors": errors}
        reply = self.core.dispatcher.execute(user.actor(), submission.command)
        done = LINK_DONE if is_link else SESSION_DONE
        if reply.key not in done:
            text = self.core.renderer.reply(reply, fmt="text")
            return {
                "response_action": "errors",
                "errors": {refusal_block(callback_id, reply.key, reply.data): text},
            }
        label = self.labels.of(reply.language)
        return {"response_action": "update", "view": notice_modal(label, self.render(reply))}

    # --- Web API ----------------------------------------------------------------------------------

    def _call(self, method: str, **arguments: Any) -> bool:
        """One Web API call (retried by the client); a final failure is logged, never raised."""
        try:
            self.client.api_call(method, json=arguments)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            log.warning("Slack %s failed: %s", method, error)
            return False
        except OSError as exc:
            log.warning("Slack %s unreachable: %s", method, type(exc).__name__)
            return False
        return True
