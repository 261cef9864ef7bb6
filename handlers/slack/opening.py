"""Opening an organiser modal on the ack path.

A trigger id opens a view within 3 s of the user's action, once. Who the user is (users.info) and
whether they may organise (the database) can take longer than that behind a rate limit or a queue,
so the listener opens a short notice at once, with nothing before it, and records the request with
the opened view's id and hash; the inbox worker then fills it in with `views.update`
(`SlackConversation.show_modal`), or tells the user where they acted when it could not be opened.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.slack.labels import Labels
from handlers.slack.modals import notice_modal

log = logging.getLogger(__name__)

# Keys the ack path adds to the recorded payload: the opened view ({"id", "hash"}), or why it is not.
OPENED, OPEN_FAILED = "opened_view", "open_failed"


class ModalOpener:
    """views.open of a "loading" notice with one short try (`handlers/slack/client.py:modal_client`)."""

    def __init__(self, client: WebClient, labels: Labels, language: str) -> None:
        self.client, self.labels, self.language = client, labels, language

    def open(self, body: dict[str, Any]) -> dict[str, Any]:
        """The payload to record: `body` with the opened view, or with the reason it did not open."""
        label = self.labels.of(self.language)
        try:
            response = self.client.views_open(
                trigger_id=str(body.get("trigger_id") or ""), view=notice_modal(label, label["loading"])
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            return {**body, OPEN_FAILED: str(error or "no answer")}
        except OSError as exc:
            return {**body, OPEN_FAILED: type(exc).__name__}
        view = response.get("view") or {}
        return {**body, OPENED: {"id": view.get("id"), "hash": view.get("hash")}}
