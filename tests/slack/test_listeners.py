"""Which requests wait on something before their answer (`waits_before_answering`): those run in the
thread pool, the rest on the web server's event loop, which must never wait on Slack."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.slack import actions as ids
from handlers.slack.listeners import waits_before_answering


def command(text: str) -> dict[str, Any]:
    return {"command": ids.COMMAND, "text": text, "trigger_id": "1.2.3", "user_id": "U1"}


@pytest.mark.parametrize(
    ("body", "waits"),
    [
        (command("planlegg"), True),  # opens a modal (views.open) before the answer
        (command("Planlegg lunsj"), True),
        (command("lysark 3"), True),
        (command("meld på"), False),
        (command("lysark"), False),  # no session number: a text answer, no modal
        (command(""), False),
        (command("x" * 5000), False),
        ({"type": "block_actions", "actions": [{"action_id": ids.PLAN_SESSION}]}, True),
        ({"type": "block_actions", "actions": [{"action_id": ids.SUBSCRIBE}]}, False),
        ({"type": "view_submission", "view": {}}, True),
        ({"type": "shortcut", "callback_id": ids.PLAN_SHORTCUT}, True),
        ({"type": "event_callback", "event": {"type": "app_home_opened"}}, False),
        ([], False),
    ],
)
def test_only_requests_that_open_or_record_something_first_wait(body: object, waits: bool) -> None:
    assert waits_before_answering(body) is waits


def test_the_same_text_reads_the_same_every_time() -> None:
    assert [waits_before_answering(command("planlegg")) for _ in range(3)] == [True, True, True]
    assert [waits_before_answering(command("meld på")) for _ in range(3)] == [False, False, False]
