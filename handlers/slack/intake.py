"""The acking side of Slack: a request is recorded in the inbox (`bot/inbox.py`) right after the ack,
and carried out by the inbox worker (`handlers/slack/work.py`), here or in the worker process.

The Events API retries a delivery (same `event_id`, header `X-Slack-Retry-Num`) when our answer was
late or lost, and a captured request can be replayed within the signature's five minutes. The
request's id (event id, or the trigger id of a command or click; for a modal submission the view and
the values submitted, `submission_key`) is the inbox key, unique: a second arrival is recognised and
ignored.
"""

from __future__ import annotations

import hashlib
import json
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
COMMAND, SUBSCRIPTION_BUTTON, MODAL_BUTTON, SHORTCUT, HOME_OPENED, SUBMISSION, USER_CHANGED = (
    "command",
    "subscription_button",
    "modal_button",
    "shortcut",
    "home_opened",
    "view_submission",
    "user_changed",
)
KINDS = (COMMAND, SUBSCRIPTION_BUTTON, MODAL_BUTTON, SHORTCUT, HOME_OPENED, SUBMISSION, USER_CHANGED)


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


def submission_key(body: dict[str, Any]) -> str:
    """A modal submission's id: the view, its version (hash) and the values submitted. Submitted
    again unchanged (the answer was late, or Slack sent it twice) it is the same submission; after
    the form was shown again with a refusal (a new hash), or with other values, it is a new one."""
    view = body.get("view") or {}
    values = json.dumps(view.get("state", {}).get("values", {}), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(values.encode()).hexdigest()[:32]
    return f"view_submission:{view.get('id')}:{view.get('hash')}:{digest}"[:MAX_KEY]


def outcome_view_id(body: dict[str, Any]) -> str:
    """The `external_id` of the notice a submission's answer pushes, where its outcome will show."""
    return "submission-" + hashlib.sha256(submission_key(body).encode()).hexdigest()[:40]


def _inbox_key(body: dict[str, Any]) -> str:
    """The request's id, or a fresh one for a request that has none (never taken for a replay)."""
    return request_key(body) or f"unkeyed:{uuid.uuid4().hex}"


class Intake:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def submit(self, kind: str, body: dict[str, Any]) -> None:
        """Hand the request over for recording (returns at once); a retry or a replay is ignored;
        the user is told (`when_unrecorded`) when the database cannot take it."""
        self.inbox.submit(CHANNEL, kind, _inbox_key(body), body)

    def when_unrecorded(self, tell: Callable[[dict[str, Any]], None]) -> None:
        """`tell(body)`, in whichever process recorded it, when a request could not be recorded."""
        self.inbox.when_unrecorded(CHANNEL, lambda _kind, body: tell(body))

    def submission(self, body: dict[str, Any]) -> bool | None:
        """Record a modal submission now (its answer depends on it): True the first time, False when
        the same submission came before, None when the database cannot take it."""
        try:
            return self.inbox.accept(CHANNEL, SUBMISSION, submission_key(body), body)
        except OperationalError:
            log.warning("database unavailable: Slack modal submission not recorded")
            return None
