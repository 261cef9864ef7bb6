"""The acking side of Slack: a request is recorded in the inbox (`bot/inbox.py`) right after the ack,
and carried out by the inbox worker (`handlers/slack/work.py`), here or in the worker process.

The Events API retries a delivery (same `event_id`, header `X-Slack-Retry-Num`) when our answer was
late or lost, and a captured request can be replayed within the signature's five minutes. The
request's id (event id, or the trigger id of a command, click or submission) is the inbox key, unique:
a second arrival is recognised and ignored.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.inbox import Inbox

log = logging.getLogger(__name__)

CHANNEL = "slack"
MAX_KEY = 200
# The kinds of request the inbox worker carries out (see handlers/slack/work.py).
COMMAND, SUBSCRIPTION_BUTTON, MODAL_BUTTON, SHORTCUT, HOME_OPENED, HOME_REFRESH = (
    "command",
    "subscription_button",
    "modal_button",
    "shortcut",
    "home_opened",
    "home_refresh",
)
KINDS = (COMMAND, SUBSCRIPTION_BUTTON, MODAL_BUTTON, SHORTCUT, HOME_OPENED, HOME_REFRESH)


def request_key(body: dict[str, Any]) -> str | None:
    """The id that makes a Slack request unique: its event id, else its trigger id (+ the action)."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    trigger = body.get("trigger_id")
    if not trigger:
        return None
    kind = body.get("type") or "command"
    actions = body.get("actions") or []
    action = actions[0].get("action_id", "") if actions else ""
    return f"{kind}:{trigger}:{action}"[:MAX_KEY]


def _inbox_key(body: dict[str, Any]) -> str:
    """The request's id, or a fresh one for a request that has none (never taken for a replay)."""
    return request_key(body) or f"unkeyed:{uuid.uuid4().hex}"


class Intake:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def submit(self, kind: str, body: dict[str, Any], on_failure: Callable[[], None] | None = None) -> None:
        """Hand the request over for recording (returns at once); a retry or a replay is ignored;
        `on_failure` when the database cannot take it."""
        self.inbox.submit(CHANNEL, kind, _inbox_key(body), body, on_failure)

    def refresh_home(self, body: dict[str, Any]) -> None:
        """After a request carried out on the spot (a modal submission): the user's App Home is
        published again by the inbox worker, once, after the answer went back."""
        self.inbox.submit(CHANNEL, HOME_REFRESH, f"home:{_inbox_key(body)}", {"user": body["user"]})

    def first_time(self, kind: str, body: dict[str, Any]) -> bool:
        """For a request carried out on the spot: True the first time its id is seen (or when the
        database cannot tell: better an answer than silence; the command will say the database is
        unavailable)."""
        key = request_key(body)
        if key is None:
            return True
        try:
            return self.inbox.record(CHANNEL, kind, key)
        except OperationalError:
            log.warning("database unavailable: Slack %s not checked for replays", kind)
            return True
