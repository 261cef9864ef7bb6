"""The session's Teams meeting stays whole (handlers.microsoft365.calendar_sync) against a fake Graph that
behaves like Exchange: a body sent without the join section disables the meeting, ETags change with
every edit and a stale `If-Match` gets 412, and the organiser edits or deletes the meeting in Outlook."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from handlers.microsoft365.status import channel_state, status_lines
from tests.conftest import NOW, ORGANISER
from tests.microsoft365.fakes.graph_tenant import Event
from tests.microsoft365.support import Tenant365, tenant365
from tests.microsoft365.test_calendar import JOHN, KARI, PER, invitation_due, mailed, only_event

SPEAKER = "foredragsholder@ks.example"


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        tenant.attach_senders()
        yield tenant


def invited(ms: Tenant365) -> tuple[int, Event]:
    """Kari subscribed, a session planned and its invitation gone out: the meeting with Kari on it."""
    ms.say(KARI, "meld på")
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    invitation_due(ms, session_id)
    ms.m365.calendar.run_once()
    event = only_event(ms)
    assert event.attendees == ["kari@kommune.no"]
    return session_id, event


def test_a_new_time_or_title_keeps_the_join_details(ms: Tenant365) -> None:
    session_id, event = invited(ms)
    join_url, blob = event.join_url, event.blob
    assert join_url and blob and blob in event.body

    ms.say(ORGANISER, f"endre økt {session_id} start=2026-03-14 10:00")
    ms.m365.calendar.run_once()
    assert event.fields["start"] == {"dateTime": "2026-03-14T09:00:00", "timeZone": "UTC"}
    assert "body" not in event.patches[-1]  # the text did not change: only the time is sent
    assert event.online and event.join_url == join_url and blob in event.body

    ms.say(ORGANISER, f"endre økt {session_id} tittel=Ny tittel")
    ms.m365.calendar.run_once()
    assert "Ny tittel" in event.body  # the body is new, the join section kept in it
    assert event.online and event.join_url == join_url and blob in event.body
    assert ms.session(session_id).join_url == join_url
    assert mailed(ms, "update") == ["kari@kommune.no", "kari@kommune.no"]


def test_an_organisers_edits_in_outlook_survive_the_next_subscriber(ms: Tenant365) -> None:
    _, event = invited(ms)
    ms.graph.tenant.edit_in_outlook(event, add=[SPEAKER], text="<p>Velkommen! Foredrag av Ola.</p>")
    ms.say(PER, "meld på")
    ms.say(JOHN, "subscribe")
    ms.m365.calendar.run_once()
    assert sorted(event.attendees) == sorted(
        [SPEAKER, "kari@kommune.no", "per@kommune.no", "john@example.org"]
    )
    assert "Foredrag av Ola" in event.body and event.online
    assert [m.address for m in ms.graph.tenant.mailed("cancellation")] == []

    ms.say(JOHN, "unsubscribe")
    ms.m365.calendar.run_once()
    assert sorted(event.attendees) == sorted([SPEAKER, "kari@kommune.no", "per@kommune.no"])
    assert mailed(ms, "cancellation") == ["john@example.org"]  # only the one who left


def test_an_edit_saved_in_outlook_while_we_update_is_kept(ms: Tenant365) -> None:
    """The organiser saves in Outlook between our read and our PATCH: Exchange answers 412, and the
    next try reads the event again and keeps their change."""
    _, event = invited(ms)
    ms.graph.tenant.before_next_patch.append(lambda e: ms.graph.tenant.edit_in_outlook(e, add=[SPEAKER]))
    ms.say(PER, "meld på")
    ms.m365.calendar.run_once()
    assert sorted(event.attendees) == sorted([SPEAKER, "kari@kommune.no", "per@kommune.no"])
    patches = [c.status for c in ms.graph.calls if c.method == "PATCH"]
    assert patches[-2:] == [412, 200]
    assert mailed(ms, "cancellation") == []


def test_a_meeting_deleted_in_outlook_comes_back_with_its_new_link_everywhere(ms: Tenant365) -> None:
    ms.login()
    session_id, event = invited(ms)
    ms.app.delivery.run_until_idle()
    old_url = event.join_url
    assert old_url and old_url in ms.graph.tenant.channel_posts()[-1].shown

    ms.graph.tenant.delete_in_outlook(event)
    ms.say(PER, "meld på")  # the next update finds it gone
    ms.m365.calendar.run_once()
    ms.m365.calendar.run_once()
    new = only_event(ms)
    assert new.online and new.join_url and new.join_url != old_url
    assert sorted(new.attendees) == ["kari@kommune.no", "per@kommune.no"]
    assert ms.session(session_id).join_url == new.join_url

    # The change is announced like a new time: one change message, with the new link.
    ms.app.delivery.run_until_idle()
    post = ms.graph.tenant.channel_posts()[-1]
    assert new.join_url in post.shown and old_url not in post.shown
    ms.app.delivery.plan()
    ms.app.delivery.run_until_idle()
    assert ms.graph.tenant.channel_posts()[-1] is post  # announced once
    assert ms.m365.calendar.run_once() == 0  # and the calendar is in step


def test_a_mailbox_without_teams_is_reported_not_passed_over(ms: Tenant365) -> None:
    ms.graph.tenant.teams_meetings = False
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    assert not only_event(ms).online and ms.session(session_id).join_url is None
    problems = ms.m365.health.problems()
    assert any("Teams licence" in p for p in problems.values()), problems
    assert channel_state(ms.m365).startswith("degraded")
    ms.m365.health.clear("Teams meetings")  # `teams status` runs in a process of its own
    lines = status_lines(ms.m365, check=True)
    assert any(
        line.startswith("Teams meetings: PROBLEM")
        and "Teams licence" in line
        and ms.graph.tenant.organiser in line
        for line in lines
    ), lines


def test_the_mailbox_is_checked_once_at_start_up(ms: Tenant365, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        ms.m365.calendar.run_once()
        ms.m365.calendar.run_once()
    assert ms.graph.count("GET", "/calendar$") == 1
    assert "the organiser mailbox baerekraft@ks.example can hold Teams meetings" in caplog.text
    assert "Teams meetings: ok" in status_lines(ms.m365, check=True)
