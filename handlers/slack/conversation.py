"""The Slack conversation once a request was acked (see `handlers/slack/work.py`): who the user is,
carrying out their command through the dispatcher, answering (ephemeral via response_url), App Home
(published where it is seen: `home_publisher.py`), and the organiser modals (opened on the ack path,
filled in here; submissions checked on the ack path, carried out here)."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import OperationalError

from bot.commands import Actor, Command
from bot.core import Core
from bot.db import Batch
from bot.dispatch import Reply
from bot.inbox import Executed
from bot.services.accounts import set_identity_active
from handlers.slack import actions as ids
from handlers.slack.access import organiser_access
from handlers.slack.answering import Answering
from handlers.slack.blocks import INPUT_MAX
from handlers.slack.client import post_to_response_url, response_url_client
from handlers.slack.home import HomeView
from handlers.slack.home_data import load_home
from handlers.slack.home_publisher import HomePublisher
from handlers.slack.identity import SlackDirectory, SlackUser
from handlers.slack.intake import outcome_view_id
from handlers.slack.labels import Labels
from handlers.slack.modals import editable_description, link_modal, notice_modal, session_modal
from handlers.slack.opening import OPEN_FAILED, OPENED
from handlers.slack.submissions import LINK_DONE, SESSION_DONE, metadata, read_submission
from handlers.slack.web_api import SlackWebAPI

# Pauses before each views.update of a notice pushed by a submission's answer (until Slack has it).
PUSHED_VIEW_WAITS = (0.0, 0.1, 0.3, 0.6, 1.0, 2.0)

log = logging.getLogger(__name__)

# Who changes an account's state when Slack says it was deactivated or reactivated (the audit's actor).
SLACK_WORKSPACE = Actor("slack", "workspace")


class SlackConversation:
    def __init__(
        self, core: Core, client: WebClient, api: SlackWebAPI, *, backoff_seconds: float = 0.5
    ) -> None:
        """`client` retries (modals, posts); `api` does not (users.info, views.publish)."""
        self.core, self.client = core, client
        self.backoff_seconds = backoff_seconds
        self.directory = SlackDirectory(api, core.clock, on_deactivated=self._found_deactivated)
        self.labels = Labels(core.renderer)
        self.home = HomeView(core.renderer, self.labels, core.settings.public_base_url)
        self.homes = HomePublisher(core.db, core.clock, api, self.home_view, core.errors)
        self.answering = Answering(core.errors)
        self.responses = response_url_client()

    # --- commands and answers ---------------------------------------------------------------------

    def execute(self, user: SlackUser, command: Command, *, within: Executed | None = None) -> str:
        """Carry `command` out for `user` (`within`: see `Dispatcher.execute`); the reply in mrkdwn,
        user text escaped."""
        return self.render(self.dispatch(user, command, within=within))

    def dispatch(
        self, user: SlackUser, command: Command, *, within: Executed | None = None, batch: Batch | None = None
    ) -> Reply:
        """Carry `command` out for `user`, in a transaction of its own or as a unit of `batch`
        (`within`, `batch`: see `Dispatcher.execute`); the reply, to render once it committed."""
        return self.core.dispatcher.execute(user.actor(), command, within=within, batch=batch)

    def render(self, reply: Reply) -> str:
        text = self.core.renderer.reply(reply, fmt="mrkdwn")
        if reply.key == "help":
            extra = self.core.renderer.render(
                "slack/help_extra.txt",
                {"organiser": bool(reply.data.get("organiser"))},
                language=reply.language,
                timezone=reply.timezone,
                fmt="mrkdwn",
            )
            text = f"{text}\n\n{extra}"
        return text

    def respond(self, response_url: str | None, text: str) -> None:
        """An ephemeral answer to the user who typed the command or clicked the button."""
        if not response_url:
            log.warning("Slack interaction without response_url: answer dropped")
            return
        body = {"response_type": "ephemeral", "replace_original": False, "text": text}
        post_to_response_url(response_url, body, backoff_seconds=self.backoff_seconds, http=self.responses)

    def answer(
        self, response_url: str | None, text: str | None, *, home: SlackUser | None, on_home: bool = False
    ) -> None:
        """After a command committed: `text` at the response_url (unless None), then `home`'s App
        Home published again (when given) if it is seen (`on_home`: the command came from it),
        beside the inbox worker (handlers/slack/answering.py, home_publisher.py)."""

        def send() -> None:
            if text is not None:
                self.respond(response_url, text)
            if home is not None:
                self.homes.refresh(home, on_home=on_home)

        self.answering.later("answer", send)

    def close(self) -> None:
        """Send the answers and App Homes still queued."""
        self.answering.close()
        self.homes.close()
        self.responses.close()

    # --- accounts ---------------------------------------------------------------------------------

    def account_changed(self, user_id: str, *, active: bool, within: Executed | None = None) -> None:
        """Slack says the user was deactivated (or is active again): their Slack identity follows,
        in one transaction with its audit row (and `within`, see `Dispatcher.execute`)."""
        core = self.core
        with core.db.transaction() as s:
            changed = set_identity_active(
                s, SLACK_WORKSPACE, core.clock.now(), "slack", user_id, active=active
            )
            if within is not None:
                within(s)
        if changed:
            log.info("Slack: an account was %s in the workspace", "reactivated" if active else "deactivated")

    def _found_deactivated(self, user_id: str) -> None:
        """users.info showed a deactivated user: no more DMs to them (a failure only postpones that)."""
        try:
            self.account_changed(user_id, active=False)
        except OperationalError:
            log.warning("database unavailable: a deactivated Slack account is not marked yet")

    # --- App Home ---------------------------------------------------------------------------------

    def home_view(self, user: SlackUser) -> dict[str, Any]:
        """`user`'s App Home as it is now (for views.publish)."""
        core = self.core
        data = load_home(core.db, core.clock, core.config, user.actor())
        timezone = user.timezone or (data.series[0].series.timezone if data.series else core.config.timezone)
        return self.home.build(data, timezone)

    # --- organiser modals -------------------------------------------------------------------------

    def show_modal(
        self,
        body: dict[str, Any],
        user: SlackUser,
        form: str,
        *,
        series: str | None = None,
        session_id: int | None = None,
    ) -> None:
        """Fill in the modal opened on the ack path (`handlers/slack/opening.py`): the form, or the
        refusal when `user` may not organise it. When it could not be opened, say so where the user
        will see it (the refusal, or that the form did not open in time)."""
        view, refusal, language = self._organiser_form(user, form, series=series, session_id=session_id)
        opened = body.get(OPENED)
        if isinstance(opened, dict):
            shown = view if view is not None else notice_modal(self.labels.of(language), refusal or "")
            self._call("views.update", view_id=opened["id"], hash=opened.get("hash"), view=shown)
            return
        log.warning("Slack modal not opened (%s): the user is told", body.get(OPEN_FAILED))
        self.tell(body, user, refusal or self.labels.of(language)["modal_failed"])

    def _organiser_form(
        self, user: SlackUser, form: str, *, series: str | None, session_id: int | None
    ) -> tuple[dict[str, Any] | None, str | None, str]:
        """The session or slides form for `user`, or the refusal (mrkdwn); and the reader's language."""
        core = self.core
        access = organiser_access(
            core.db, core.clock, core.config, user.actor(), series_slug=series, session_id=session_id
        )
        if access.refusal is not None:
            return None, self.render(access.refusal), access.language
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
            return link_modal(label, access.session, intro, access.language), None, access.language
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
            language=access.language,
            description_kept=kept,
        )
        return view, None, access.language

    def tell(self, body: dict[str, Any], user: SlackUser, text: str) -> None:
        """Where the user acted (the response_url of a command or message button), else a direct
        message (a global shortcut and App Home have no response_url)."""
        url = body.get("response_url")
        if isinstance(url, str) and url:
            self.respond(url, text)
        else:
            self._call("chat.postMessage", channel=user.user_id, text=text)

    def unavailable(self, body: dict[str, Any], text: str) -> None:
        """A request failed before its work was done (not recorded, or failed for good): `text` in
        the modal it opened, or in the notice its submission pushed, else through its response_url."""
        label = self.labels.of(self.core.config.language)
        opened = body.get(OPENED)
        if isinstance(opened, dict):
            self._call("views.update", view_id=opened["id"], view=notice_modal(label, text))
        elif body.get("type") == "view_submission":
            self._replace_pushed(outcome_view_id(body), notice_modal(label, text, close="back"))
        elif body.get("response_url"):
            self.respond(body.get("response_url"), text)

    def form_problems(self, view: dict[str, Any]) -> dict[str, Any] | None:
        """The submission's answer when the form itself cannot be used (no date, a duration that is
        no number), from the payload alone: no database, no Slack call. None when it can be used."""
        submission = read_submission(view)
        if submission.command is not None:
            return None
        label = self.labels.of(self.form_language(view))
        return {
            "response_action": "errors",
            "errors": {p.block_id: label[p.label] for p in submission.problems},
        }

    def form_notice(self, view: dict[str, Any], key: str, external_id: str | None = None) -> dict[str, Any]:
        """The submission's answer while the inbox worker carries it out: a notice pushed onto the form
        (`saving`, with `external_id` for the worker to replace it; or `already_submitted`)."""
        label = self.labels.of(self.form_language(view))
        return {"response_action": "push", "view": notice_modal(label, label[key], external_id=external_id)}

    def form_language(self, view: dict[str, Any]) -> str:
        language = metadata(view).get("language")
        return language if isinstance(language, str) else self.core.config.language

    def apply_submission(
        self, view: dict[str, Any], user: SlackUser, external_id: str, *, within: Executed
    ) -> None:
        """A modal submission carried out (once: `within` marks its inbox request in the command's
        transaction); the notice pushed onto the form (`external_id`) then shows the outcome, or the
        refusal, whose close button goes back to the form."""
        callback_id = str(view.get("callback_id"))
        submission = read_submission(view)
        if submission.command is None:  # answered on the ack path already
            return
        reply = self.core.dispatcher.execute(user.actor(), submission.command, within=within)
        label = self.labels.of(reply.language)
        if reply.key in (LINK_DONE if callback_id == ids.LINK_FORM else SESSION_DONE):
            outcome = notice_modal(label, self.render(reply), clear_on_close=True)
        else:
            outcome = notice_modal(label, self.render(reply), close="back")
        self._replace_pushed(external_id, outcome)

    def _replace_pushed(self, external_id: str, view: dict[str, Any]) -> None:
        """views.update of the notice the submission's answer pushed. Slack applies that answer when
        it arrives; until then the view is `not_found`, so wait for it a little."""
        for pause in PUSHED_VIEW_WAITS:
            time.sleep(pause)
            try:
                self.client.api_call("views.update", json={"external_id": external_id, "view": view})
                return
            except SlackApiError as exc:
                error = exc.response.get("error") if exc.response is not None else None
                if error != "not_found":
                    log.warning("Slack views.update failed: %s", error)
                    return
            except OSError as exc:
                log.warning("Slack views.update unreachable: %s", type(exc).__name__)
                return
        log.warning("Slack views.update failed: not_found (the modal was closed)")

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
