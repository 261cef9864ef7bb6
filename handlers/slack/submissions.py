"""Modal submissions to neutral commands, and refusals back onto the modal's fields.

The modal's values become `AddSession`/`ChangeSession`/`CancelSession`/`AddLink` for the dispatcher;
a value the form itself cannot use (no date, a duration that is no number) is refused here, every
other rule is the core's. A refusal's reply key names the field it concerns (`FIELD_OF`), so Slack
shows it under that field (`response_action: errors`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar

from bot import commands as c
from handlers.slack import actions as ids
from handlers.slack.modals import OPTIONAL, VALUE

T = TypeVar("T")

# Reply keys of the core's refusals → the block they concern.
FIELD_OF = {
    "missing_title": "title",
    "missing_start": "date",
    "start_in_past": "date",
    "date_out_of_range": "date",
    "nonexistent_time": "time",
    "bad_duration": "duration",
    "bad_url": "join_url",
    "session_over": "cancel",  # only a cancellation (edit modal) can find the session over
    "session_clash": "date",
}
LINK_FIELD_OF = {
    "missing_title": "link_title",
    "too_long": "link_title",
    "bad_url": "link_url",
    "bad_link_kind": "link_kind",
}
SESSION_DONE = frozenset(
    {"session_added", "session_changed", "session_unchanged", "session_cancelled_now", "session_cancelled"}
)
LINK_DONE = frozenset({"link_added"})


@dataclass(frozen=True)
class FormProblem:
    """A value the form cannot use: the block and the label key of its message."""

    block_id: str
    label: str


@dataclass(frozen=True)
class Submission:
    command: c.Command | None
    problems: list[FormProblem] = field(default_factory=list)


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _value(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    found = values.get(block_id, {}).get(VALUE, {})
    return found if isinstance(found, dict) else {}


def _text(values: dict[str, Any], block_id: str) -> str | None:
    raw = _value(values, block_id).get("value")
    text = raw.strip() if isinstance(raw, str) else ""
    return text or None


def session_submission(view: dict[str, Any]) -> Submission:
    """The session modal's values → a command (or the problems the form itself has)."""
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    meta = metadata(view)
    session_id = meta.get("session")
    cancel = _value(values, "cancel").get("selected_options") or []
    if isinstance(session_id, int) and any(o.get("value") == "cancel" for o in cancel):
        return Submission(c.CancelSession(session_id))
    problems: list[FormProblem] = []
    picked_date = _parse(_value(values, "date").get("selected_date"), date.fromisoformat)
    picked_time = _parse(_value(values, "time").get("selected_time"), time.fromisoformat)
    if picked_date is None:
        problems.append(FormProblem("date", "missing_date"))
    if picked_time is None:
        problems.append(FormProblem("time", "missing_time"))
    duration_text = _text(values, "duration")
    duration = _parse(duration_text, int)
    if duration_text is not None and duration is None:
        problems.append(FormProblem("duration", "bad_duration"))
    if problems or picked_date is None or picked_time is None:
        return Submission(None, problems)
    # An optional field that had a value and was emptied is cleared (""); one that stayed empty is
    # not given (None), so it is no change.
    filled = set(meta.get("filled") or [])
    optional = {name: _text(values, name) or ("" if name in filled else None) for name in OPTIONAL}
    fields = c.SessionFields(
        title=_text(values, "title") or "",
        start_local=datetime.combine(picked_date, picked_time),
        duration_minutes=duration,
        topic=optional["topic"],
        speakers=optional["speakers"],
        description=optional["description"],
        join_url=optional["join_url"],
    )
    if isinstance(session_id, int):
        return Submission(c.ChangeSession(session_id, fields))
    series = _value(values, "series").get("selected_option", {}).get("value") or meta.get("series")
    return Submission(c.AddSession(fields, series=series if isinstance(series, str) else None))


def link_submission(view: dict[str, Any]) -> Submission:
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    session_id = metadata(view).get("session")
    if not isinstance(session_id, int):
        return Submission(None, [FormProblem("link_title", "no_session")])
    return Submission(
        c.AddLink(
            session_id,
            url=_text(values, "link_url") or "",
            title=_text(values, "link_title") or "",
            speaker=_text(values, "link_speaker"),
            kind=_value(values, "link_kind").get("selected_option", {}).get("value") or "slides",
        )
    )


def read_submission(view: dict[str, Any]) -> Submission:
    """The session or slides modal's values → a command (or the problems the form itself has)."""
    return link_submission(view) if view.get("callback_id") == ids.LINK_FORM else session_submission(view)


def refusal_block(callback_id: str, key: str, data: dict[str, Any]) -> str:
    """The block a refusal belongs under; anything not about one field goes under the first."""
    if callback_id == ids.LINK_FORM:
        return LINK_FIELD_OF.get(key, "link_title")
    if key == "too_long" and data.get("field") in ("title", "topic", "speakers", "description", "join_url"):
        return str(data["field"])
    return FIELD_OF.get(key, "title")


def _parse(raw: object, parse: Callable[[str], T]) -> T | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return parse(raw.strip())
    except ValueError:
        return None
