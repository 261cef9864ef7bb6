"""The iCalendar feed of a series: one VEVENT per session with a stable UID and SEQUENCE, so a
subscribed calendar updates (or cancels) the same entry instead of adding a new one.

METHOD:PUBLISH requires an ORGANIZER in each event (RFC 5546 3.2.1): the series, named by its page
(a cal-address is any URI, RFC 5545 3.3.3), since the feed has no mailbox of its own. The refresh
hints are durations (`PT1H`), as calendars read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.calendar_ids import session_uid
from bot.rendering import Renderer
from bot.views import SeriesView, SessionView

if TYPE_CHECKING:  # icalendar is imported when a feed is asked for, not at start-up
    from icalendar import Event

PRODID = "-//Baerekraftsfredag bot//Webinar series//NB"
REFRESH = timedelta(hours=1)


def build_calendar(
    renderer: Renderer,
    series: SeriesView,
    sessions: Sequence[SessionView],
    *,
    now: datetime,
    page_url: str,
    host: str,
) -> bytes:
    """The feed as bytes (UTF-8, CRLF line ends, long lines folded by icalendar)."""
    from icalendar import Calendar, vDuration

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", series.name)
    calendar.add("x-wr-timezone", series.timezone)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    for session in sessions:
        calendar.add_component(_event(renderer, session, now=now, page_url=page_url, host=host))
    return bytes(calendar.to_ical())


def _event(renderer: Renderer, session: SessionView, *, now: datetime, page_url: str, host: str) -> Event:
    from icalendar import Event, vCalAddress

    event = Event()
    event.add("uid", session_uid(session.id, host))
    event.add("dtstamp", now)
    event.add("sequence", session.sequence)
    event.add("status", "CANCELLED" if session.cancelled else "CONFIRMED")
    event.add("summary", session.title)
    event.add("dtstart", session.start)
    event.add("dtend", session.end)
    event.add("url", page_url)
    organizer = vCalAddress(page_url)
    organizer.params["CN"] = session.series.name
    event.add("organizer", organizer)
    if session.join_url:
        event.add("location", session.join_url)
    description = renderer.render(
        "web/calendar_event.txt",
        {"session": session, "page_url": page_url},
        language=session.series.language,
        timezone=session.series.timezone,
    )
    event.add("description", description)
    return event
