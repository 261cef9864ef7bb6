"""Organiser modals: plan or edit a session (with a cancel option), and add slides to a session.

Block ids name the fields, so a refusal maps onto the field it concerns (see `submissions.py`).
Date and time are asked in the series' time zone; `private_metadata` carries the series and session,
and the reader's language (a submission is answered before anyone asks Slack who the user is).
A description longer than a text input holds (written before the core's limit was Slack's) is not
offered for editing: the modal says it is kept, and a submission without the field leaves it be.

A modal opens as a short notice on the ack path (the trigger id lives 3 s) and the inbox worker
replaces it with the form. A submission is answered by pushing a notice onto the form (with an
`external_id`), which the inbox worker replaces with the outcome: closing it ends the modal, or, after
a refusal, goes back to the form as it was filled in.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from bot.views import SeriesView, SessionView
from handlers.slack import actions as ids
from handlers.slack.blocks import INPUT_LABEL, INPUT_MAX, MODAL_TITLE, Block, context, mrkdwn, plain, section

VALUE = "value"  # the action id of every input element
OPTIONAL = ("topic", "speakers", "description", "join_url")


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, INPUT_LABEL),
        "element": {**element, "action_id": VALUE},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, INPUT_LABEL)
    return block


def _text(initial: str | None = None, *, multiline: bool = False, max_length: int = 300) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline, "max_length": max_length}
    if initial:
        element["initial_value"] = initial
    return element


def _url(initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "url_text_input"}
    if initial:
        element["initial_value"] = initial
    return element


def _modal(
    title: str, blocks: list[Block], label: dict[str, str], callback_id: str, meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MODAL_TITLE),
        "submit": plain(label["submit"], MODAL_TITLE),
        "close": plain(label["close"], MODAL_TITLE),
        "private_metadata": json.dumps(meta),
        "blocks": blocks,
    }


def editable_description(session: SessionView | None) -> bool:
    """Whether the session's description fits the modal's text input (a new session's always does)."""
    return session is None or len(session.description or "") <= INPUT_MAX


def session_modal(
    label: dict[str, str],
    time_hint: str,
    *,
    series: SeriesView,
    session: SessionView | None = None,
    series_choice: list[SeriesView] | None = None,
    language: str | None = None,
    description_kept: str = "",
) -> dict[str, Any]:
    """A new session for `series` (or for one of `series_choice`), or `session` to edit or cancel.
    `description_kept` (mrkdwn) stands in for a description too long to edit here."""
    local = session.start.astimezone(ZoneInfo(series.timezone)) if session else None
    date: dict[str, Any] = {"type": "datepicker"}
    time: dict[str, Any] = {"type": "timepicker", "timezone": series.timezone}
    duration: dict[str, Any] = {"type": "number_input", "is_decimal_allowed": False}
    duration.update(min_value="1", max_value="1440")
    if local is not None and session is not None:
        date["initial_date"] = local.strftime("%Y-%m-%d")
        time["initial_time"] = local.strftime("%H:%M")
        duration["initial_value"] = str(session.duration_minutes)
    blocks: list[Block] = []
    if series_choice and len(series_choice) > 1 and session is None:
        options = [{"text": plain(x.name, 75), "value": x.slug} for x in series_choice]
        choice = {"type": "static_select", "options": options, "initial_option": options[0]}
        blocks.append(_input("series", label["series"], choice))
    blocks += [
        _input("title", label["title"], _text(session.title if session else None)),
        _input("date", label["date"], date, hint=time_hint),
        _input("time", label["time"], time),
        _input("duration", label["duration"], duration, optional=True),
        _input(
            "topic", label["topic"], _text(session.topic if session else None, max_length=200), optional=True
        ),
        _input(
            "speakers",
            label["speakers"],
            _text(session.speakers if session else None, max_length=500),
            optional=True,
        ),
        (
            _input(
                "description",
                label["description"],
                _text(session.description if session else None, multiline=True, max_length=INPUT_MAX),
                optional=True,
            )
            if editable_description(session)
            else context(description_kept)
        ),
        _input("join_url", label["join_url"], _url(session.join_url if session else None), optional=True),
    ]
    if session is not None:
        option = {"text": plain(label["cancel_option"], 75), "value": "cancel"}
        blocks.append(
            _input("cancel", label["cancel"], {"type": "checkboxes", "options": [option]}, optional=True)
        )
    title = label["session_edit_title"] if session else label["session_new_title"]
    meta: dict[str, Any] = {"series": series.slug, "session": session.id if session else None}
    if language is not None:
        meta["language"] = language
    if session is not None:  # the optional fields that had a value: emptying one clears it
        shown = [name for name in OPTIONAL if name != "description" or editable_description(session)]
        meta["filled"] = [name for name in shown if getattr(session, name)]
    return _modal(title, blocks, label, ids.SESSION_FORM, meta)


def link_modal(
    label: dict[str, str], session: SessionView, intro: str, language: str | None = None
) -> dict[str, Any]:
    """Slides or a recording (title, speaker, URL, kind) for `session`; `intro` is escaped mrkdwn
    naming the session."""
    kinds = [
        {"text": plain(label[f"link_kind_{kind}"], 75), "value": kind} for kind in ("slides", "recording")
    ]
    blocks: list[Block] = [
        section(intro),
        _input("link_title", label["link_name"], _text()),
        _input("link_speaker", label["link_speaker"], _text(max_length=200), optional=True),
        _input("link_url", label["link_url"], _url()),
        _input(
            "link_kind",
            label["link_kind"],
            {"type": "radio_buttons", "options": kinds, "initial_option": kinds[0]},
        ),
    ]
    meta: dict[str, Any] = {"series": session.series.slug, "session": session.id}
    if language is not None:
        meta["language"] = language
    return _modal(label["link_title"], blocks, label, ids.LINK_FORM, meta)


def notice_modal(
    label: dict[str, str],
    text: str,
    *,
    close: str = "close",
    clear_on_close: bool = False,
    external_id: str | None = None,
) -> dict[str, Any]:
    """A modal that only says something (a refusal, or what a submission did); `text` is mrkdwn.
    `close` names the label of its close button; `clear_on_close` closes the whole modal with it
    (not only this view, when it was pushed onto a form)."""
    view: dict[str, Any] = {
        "type": "modal",
        "title": plain(label["notice_title"], MODAL_TITLE),
        "close": plain(label[close], MODAL_TITLE),
        "blocks": [{"type": "section", "text": mrkdwn(text)}],
    }
    if clear_on_close:
        view["clear_on_close"] = True
    if external_id is not None:
        view["external_id"] = external_id
    return view
