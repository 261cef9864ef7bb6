"""Slack's side of the conversation: signed slash commands, button clicks, modal submissions and
events, sent over real HTTP to the bot's `POST /slack/events`, as Slack sends them.

Signatures are made with slack_sdk's `SignatureVerifier.generate_signature` (what Slack computes);
`now` is the clock the signature's timestamp comes from, so tests can sign for a controlled time.
Every request gets a fresh trigger id, issued at the fake Web API the moment the user acts (it opens
one view within 3 s), and a `response_url` on the fake Web API. A modal submission's answer is applied
to the open view as Slack does (`response_action: update` replaces it).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.slack.fakes.slack_api import FakeSlackAPI
from tests.slack.fakes.slack_text import as_sent, should_escape

SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
_numbers = itertools.count(1)
ESCAPE = should_escape()  # as the manifest sets up the slash command


def signed_headers(secret: str, body: bytes, timestamp: int, content_type: str) -> dict[str, str]:
    """The headers Slack adds: `X-Slack-Request-Timestamp` and the `v0=` HMAC signature."""
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    assert signature is not None
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
    }


def slash_command_form(text: str, user: str, response_url: str, trigger_id: str) -> dict[str, str]:
    """The form fields Slack posts for `/baerekraft <text>` typed by `user` in #general."""
    return {
        "token": "legacy-verification-token",
        "team_id": "T0FAKE",
        "team_domain": "fake",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/baerekraft",
        "text": text,
        "api_app_id": "A0BOT",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


class SlackPlatform:
    """Sends what Slack would send to the bot at `events_url`."""

    def __init__(
        self,
        events_url: str,
        fake: FakeSlackAPI,
        *,
        secret: str = SIGNING_SECRET,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.events_url, self.fake, self.secret, self.now = events_url, fake, secret, now
        self.http = httpx.Client(timeout=10)

    def close(self) -> None:
        self.http.close()

    # --- raw ----------------------------------------------------------------------------------------

    def send(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        stamp = int(self.now()) if timestamp is None else timestamp
        signed = signed_headers(secret or self.secret, body, stamp, content_type)
        return self.http.post(self.events_url, content=body, headers={**signed, **(headers or {})})

    # --- what users do ------------------------------------------------------------------------------

    def command_body(self, text: str, user: str, *, trigger_id: str | None = None) -> tuple[bytes, str]:
        """A slash command's form body; returns it and its response_url key."""
        fields, key = self.command_fields(text, user, trigger_id=trigger_id)
        return urlencode(fields).encode(), key

    def command_fields(
        self, text: str, user: str, *, trigger_id: str | None = None
    ) -> tuple[dict[str, str], str]:
        """A slash command's fields (the payload of a Socket Mode envelope) and the response_url key."""
        number = next(_numbers)
        key = f"cmd-{number}"
        trigger = self.fake.issue_trigger(trigger_id or f"{number}.1000.trigger{number}")
        sent = as_sent(text, self.fake.workspace.users, ESCAPE)
        return slash_command_form(sent, user, self.fake.response_url(key), trigger), key

    def command(self, text: str, user: str, **kwargs: Any) -> tuple[httpx.Response, str]:
        """`/baerekraft <text>` typed by `user`; returns the HTTP answer and the response_url key."""
        body, key = self.command_body(text, user)
        return self.send(body, "application/x-www-form-urlencoded", **kwargs), key

    def interaction_body(self, payload: dict[str, Any]) -> bytes:
        return urlencode({"payload": json.dumps(payload)}).encode()

    def interact(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.send(self.interaction_body(payload), "application/x-www-form-urlencoded", **kwargs)

    def click_body(
        self, action_id: str, value: str, user: str, *, where: str = "message"
    ) -> tuple[bytes, str]:
        """A button click's body (in a channel message, or on App Home) and its response_url key."""
        number = next(_numbers)
        key = f"click-{number}"
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": "T0FAKE", "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0FAKE"},
            "api_app_id": "A0BOT",
            "trigger_id": self.fake.issue_trigger(f"{number}.2000.trigger{number}"),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": value,
                    "action_ts": f"{int(self.now())}.000200",
                }
            ],
        }
        if where == "message":
            payload["container"] = {"type": "message", "message_ts": "1.1", "channel_id": "C0GENERAL"}
            payload["channel"] = {"id": "C0GENERAL", "name": "general"}
            payload["message"] = {"type": "message", "ts": "1.1", "text": "invitation"}
            payload["response_url"] = self.fake.response_url(key)
        else:
            payload["container"] = {"type": "view", "view_id": f"VH{user}"}
            payload["view"] = {"id": f"VH{user}", "type": "home", "callback_id": "", "private_metadata": ""}
        return self.interaction_body(payload), key

    def click(
        self, action_id: str, value: str, user: str, *, where: str = "message"
    ) -> tuple[httpx.Response, str]:
        """A button clicked in a channel message (`where="message"`) or on App Home (`"home"`)."""
        body, key = self.click_body(action_id, value, user, where=where)
        return self.send(body, "application/x-www-form-urlencoded"), key

    def submit(self, view: dict[str, Any], values: dict[str, dict[str, Any]], user: str) -> httpx.Response:
        """Submit an opened modal (`view` as the fake recorded it, with its id and hash) with `values`
        per block id; the answer is applied to the view as Slack would. As in Slack, the state holds
        only the view's inputs, and no text longer than its input takes."""
        number = next(_numbers)
        inputs = {b["block_id"]: b["element"] for b in view.get("blocks", []) if b.get("type") == "input"}
        for block, value in values.items():
            typed, most = value.get("value"), inputs.get(block, {}).get("max_length", 3000)
            assert not isinstance(typed, str) or len(typed) <= most, f"{block}: Slack takes {most} at most"
        state = {block: {"value": value} for block, value in values.items() if block in inputs}
        payload = {
            "type": "view_submission",
            "team": {"id": "T0FAKE", "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0FAKE"},
            "api_app_id": "A0BOT",
            "trigger_id": self.fake.issue_trigger(f"{number}.3000.trigger{number}"),
            "view": {**view, "state": {"values": state}},
        }
        answer = self.interact(payload)
        if answer.status_code == 200 and answer.content and "id" in view:
            self.fake.view_answered(view["id"], answer.json())
        return answer

    def shortcut(self, callback_id: str, user: str) -> httpx.Response:
        """A global shortcut (from the composer or the search bar): no channel, no response_url."""
        number = next(_numbers)
        payload = {
            "type": "shortcut",
            "callback_id": callback_id,
            "trigger_id": self.fake.issue_trigger(f"{number}.4000.trigger{number}"),
            "user": {"id": user, "username": user.lower(), "team_id": "T0FAKE"},
            "team": {"id": "T0FAKE", "domain": "fake"},
            "action_ts": f"{int(self.now())}.000400",
        }
        return self.interact(payload)

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> bytes:
        envelope = {
            "token": "legacy-verification-token",
            "team_id": "T0FAKE",
            "api_app_id": "A0BOT",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_numbers):08d}",
            "event_time": int(self.now()),
            "authorizations": [{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": True}],
        }
        return json.dumps(envelope).encode()

    def home_opened(
        self, user: str, *, event_id: str | None = None, retry: int | None = None
    ) -> httpx.Response:
        event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return self.send(self.event_body(event, event_id), "application/json", headers=headers)

    def user_change(self, user: dict[str, Any], *, event_id: str | None = None) -> httpx.Response:
        """`user_change`: a user's profile changed (deactivated: `user.deleted` is true), with the
        whole user object as users.info gives it (`FakeSlackAPI.deactivate` returns one)."""
        now = int(self.now())
        event = {"type": "user_change", "user": user, "cache_ts": now, "event_ts": f"{now}.000300"}
        return self.send(self.event_body(event, event_id), "application/json")


def text_input(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def form_values(
    *,
    title: str | None,
    date: str | None,
    time_of_day: str | None,
    duration: str | None = None,
    topic: str | None = None,
    speakers: str | None = None,
    description: str | None = None,
    join_url: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The session modal's state as Slack sends it."""
    return {
        "title": text_input(title),
        "date": {"type": "datepicker", "selected_date": date},
        "time": {"type": "timepicker", "selected_time": time_of_day},
        "duration": {"type": "number_input", "value": duration},
        "topic": text_input(topic),
        "speakers": text_input(speakers),
        "description": text_input(description),
        "join_url": {"type": "url_text_input", "value": join_url},
    }
