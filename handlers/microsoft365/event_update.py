"""What one update of a session's event sends, worked out from the event as it is now (read just before,
as Graph's event-update page advises): only what differs from ours, a new body with the event's own join
section, the attendees merged with the organiser's (see event_merge)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.microsoft365.calendar import (
    Attendee,
    CurrentEvent,
    EventContent,
    attendee_entries,
    content_fields,
)
from handlers.microsoft365.event_merge import address, join_section, merged_attendees
from handlers.microsoft365.meeting_parts import Part

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Update:
    fields: dict[str, Any]  # nothing: the event is as it should be
    etag: str | None  # of the event read: the PATCH goes only if it is still the current one
    recipients: int  # whom Exchange mails because of it
    body_digest: str | None  # of the body text the event then has from us


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def update_of(
    part: Part, current: CurrentEvent, content: EventContent | None, wanted: Sequence[Attendee] | None
) -> Update:
    """The PATCH for `part`: `content` when the session changed, `wanted` when its attendees did."""
    fields: dict[str, Any] = {}
    on_it = {a for a in map(address, current.attendees) if a}
    after = on_it
    if wanted is not None:
        ours = part.addresses if part.addresses is not None else on_it  # unrecorded: all are ours
        merged = merged_attendees(current.attendees, ours, attendee_entries(wanted))
        after = {a for a in map(address, merged) if a}
        if after != on_it:
            fields["attendees"] = merged
    recipients, body_digest = len(on_it ^ after), part.body_digest
    if content is not None:
        fields.update(content_fields(content))
        body = _body(part, content, current) if digest(content.body_html) != part.body_digest else None
        if body is None:
            del fields["body"]  # the text is as it was: a new time alone sends none
        else:
            fields["body"]["content"], body_digest = body, digest(content.body_html)
        recipients = len(on_it | after) if part.invited else recipients
    return Update(fields, current.etag, recipients, body_digest)


def _body(part: Part, content: EventContent, current: CurrentEvent) -> str | None:
    """The new body text, with the Teams meeting's join section as the event has it (without it,
    Exchange would disable the meeting); None when that section cannot be found: the body stays."""
    if not part.online or current.join_url is None:
        return content.body_html
    section = join_section(current.body, current.join_url)
    if section is None:
        log.warning("calendar: no join section found in event %s: its text left as it is", part.event_id)
        return None
    return content.body_html + section
