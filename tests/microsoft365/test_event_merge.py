"""The join section found in a body as Graph returns it, and attendee lists merged (event_merge)."""

from __future__ import annotations

from handlers.microsoft365.event_merge import join_section, merged_attendees
from tests.microsoft365.fakes.graph_exchange import _document, meeting_blob

URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d&a=1"


def entry(address: str) -> dict[str, object]:
    return {"emailAddress": {"address": address}, "type": "required"}


def test_the_join_section_is_cut_from_the_body_exactly() -> None:
    blob = meeting_blob(URL)
    body = _document("<p>Velkommen</p>\r\n<div>" + "_" * 10 + "</div>" + blob)
    assert join_section(body, URL) == blob  # the URL is HTML-escaped in it: found all the same
    assert join_section(_document("<p>Velkommen</p>"), URL) is None
    assert join_section(_document(f'<p><a href="{URL}">Bli med</a></p>'), URL) is None  # no rule: not it


def test_attendees_merged_keep_the_organisers_and_change_only_ours() -> None:
    """John left (taken off), Per is new (put on), the speaker was added in Outlook (kept), and Ola,
    whom the organiser took off in Outlook, is not put back."""
    current = [entry("kari@x.no"), entry("Speaker@KS.example"), entry("john@x.no")]
    ours = {"kari@x.no", "john@x.no", "ola@x.no"}
    wanted = [entry("kari@x.no"), entry("ola@x.no"), entry("per@x.no")]
    merged = merged_attendees(current, ours, wanted)
    assert [a["emailAddress"] for a in merged] == [
        {"address": "kari@x.no"},
        {"address": "Speaker@KS.example"},
        {"address": "per@x.no"},
    ]
