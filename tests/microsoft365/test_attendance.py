"""Attendance from Teams (handlers.microsoft365.attendance) against the fake Graph's attendance
reports: nothing before a report exists (404), distinct attendees over every report and page, each
report read once, final after two days, and a missing policy or permission kept as a problem."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import GrantOrganiser
from bot.models import AuditEvent, Fanout, PresentationLink, SessionAttendance
from handlers.microsoft365.attendance import EVERY, FINAL_AFTER, problems
from handlers.microsoft365.status import status_lines
from tests.conftest import NOW, ORGANISER, person
from tests.microsoft365.fakes.graph_meetings import Attendee, Recording, Report
from tests.microsoft365.support import Tenant365, tenant365

REPORTS = r"/attendanceReports$"
RECORDS = r"/attendanceRecords$"
START = NOW + timedelta(days=10)
END = START + timedelta(minutes=60)
PEOPLE = (
    Attendee("aad-kari", "Kari Nordmann", "kari@kommune.no"),
    Attendee("aad-john", "John Smith", "John@Example.org", role="Presenter"),
    Attendee("guest-1", "Gunnar (gjest)"),  # a guest without an address
    Attendee("aad-per", "Per Hansen", "per@kommune.no"),
    Attendee("aad-organiser", "Bærekraftsfredag", "baerekraft@ks.example", role="Organizer"),
)


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        yield tenant


def held(ms: Tenant365, report_id: str, people: tuple[Attendee, ...], ended: datetime = END) -> None:
    [event] = ms.graph.tenant.live_events()
    assert event.join_url
    # Teams makes the report a quarter of an hour after the meeting ended.
    report = Report(report_id, ended - timedelta(minutes=60), ended, ended + timedelta(minutes=15), people)
    ms.graph.meetings.held(event.join_url, report)


def attendance(ms: Tenant365) -> SessionAttendance | None:
    with ms.app.db.read() as s:
        found = s.get(SessionAttendance, 1)
        if found is not None:
            s.expunge(found)
        return found


def planned(ms: Tenant365) -> None:
    assert ms.add_session(START) == 1
    ms.m365.calendar.run_once()  # Exchange makes the Teams meeting


def test_attendance_is_counted_once_the_report_appears_and_read_until_final(ms: Tenant365) -> None:
    planned(ms)
    held(ms, "report-1", PEOPLE)
    ms.clock.set(END + timedelta(minutes=5))
    assert ms.m365.attendance.run_once() == 0  # too soon to look
    assert ms.graph.count("GET", REPORTS, successful_only=False) == 0

    ms.clock.set(END + timedelta(minutes=10))  # Teams has not made the report yet: 404
    assert ms.m365.attendance.run_once() == 0
    assert ms.graph.count("GET", REPORTS, successful_only=False) == 1 and attendance(ms) is None

    ms.clock.set(END + timedelta(minutes=10) + EVERY)
    assert ms.m365.attendance.run_once() == 1
    found = attendance(ms)
    assert found is not None and (found.attended, found.source, found.final) == (5, "teams", False)
    assert ms.graph.count("GET", RECORDS) == 3  # five records, two a page
    reply = ms.say(ORGANISER, "antall 1")
    assert "Deltok: 5 (fra deltakerrapporten i Teams, foreløpig)" in reply

    ms.clock.set(ms.clock.now() + timedelta(minutes=1))
    assert ms.m365.attendance.run_once() == 0  # not yet looked for again
    ms.clock.set(ms.clock.now() + EVERY)
    assert ms.m365.attendance.run_once() == 0
    assert ms.graph.count("GET", RECORDS) == 3, "a report already read is not read again"

    # The meeting was started again that afternoon: a second report, Kari again and one more.
    again = END + timedelta(hours=3)
    held(ms, "report-2", (PEOPLE[0], Attendee("aad-ola", "Ola", "ola@kommune.no")), ended=again)
    ms.clock.set(again + timedelta(minutes=20))
    assert ms.m365.attendance.run_once() == 1
    assert attendance(ms).attended == 6  # type: ignore[union-attr]  # distinct over both reports

    ms.clock.set(END + FINAL_AFTER)
    assert ms.m365.attendance.run_once() == 1
    assert attendance(ms).final is True  # type: ignore[union-attr]
    before = len(ms.graph.calls)
    ms.clock.set(ms.clock.now() + timedelta(days=1))
    assert ms.m365.attendance.run_once() == 0 and len(ms.graph.calls) == before
    with ms.app.db.read() as s:
        audited = list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == "session.attendance_recorded"))
        )
    assert [(e.details["attended"], e.details["final"]) for e in audited] == [
        (5, False),
        (6, False),
        (6, True),
    ]
    assert "Deltok: 6 (fra deltakerrapporten i Teams)" in ms.say(ORGANISER, "antall 1")


def test_without_the_access_policy_the_problem_is_kept_and_it_is_read_once_granted(ms: Tenant365) -> None:
    planned(ms)
    held(ms, "report-1", PEOPLE[:2])
    ms.graph.meetings.policy_users = set()  # Grant-CsApplicationAccessPolicy not run for the organiser
    ms.clock.set(END + timedelta(minutes=30))
    assert ms.m365.attendance.run_once() == 0
    with ms.app.db.read() as s:
        [(session_id, problem)] = problems(s)
    assert session_id == 1 and "403" in problem and "application access policy" in problem
    assert f"attendance PROBLEM for session 1: {problem}" in status_lines(ms.m365, check=False)
    ms.graph.meetings.policy_users = None
    ms.clock.set(ms.clock.now() + EVERY)
    assert ms.m365.attendance.run_once() == 1
    assert attendance(ms).attended == 2  # type: ignore[union-attr]
    with ms.app.db.read() as s:
        assert problems(s) == []
    lines = status_lines(ms.m365, check=False)
    assert "attendance from Teams' reports: counted for 1 sessions" in lines
    assert not any("attendance PROBLEM" in line for line in lines)


def test_without_the_artifact_permission_nothing_is_counted(ms: Tenant365) -> None:
    ms.idp.app_permissions.discard("OnlineMeetingArtifact.Read.All")  # before the app's token is issued
    planned(ms)
    held(ms, "report-1", PEOPLE)
    ms.clock.set(END + timedelta(minutes=30))
    assert ms.m365.attendance.run_once() == 0
    with ms.app.db.read() as s:
        [(_, problem)] = problems(s)
    assert "OnlineMeetingArtifact.Read.All" in problem
    assert attendance(ms) is None
    assert "Deltok: ikke kjent" in ms.say(ORGANISER, "antall 1")


def test_the_teams_meetings_invitation_counts_as_mail_in_the_numbers(ms: Tenant365) -> None:
    ms.attach_senders()
    ms.say(person("per@kommune.no"), "meld på")
    ms.say(person("kari@kommune.no"), "meld på")
    planned(ms)
    ms.clock.set(START - timedelta(days=7, minutes=-1))
    ms.app.delivery.plan()
    ms.m365.calendar.run_once()  # Exchange invites both: the invitation by mail is the meeting itself
    [event] = ms.graph.tenant.live_events()
    assert sorted(event.attendees) == ["kari@kommune.no", "per@kommune.no"]
    reply = ms.say(ORGANISER, "antall 1")
    assert "Invitert: 2" in reply and "Nådd i minst én kanal: 2" in reply
    assert "E-post, invitasjonen: 2 nådd" in reply


def recording_notices(ms: Tenant365) -> list[tuple[str, dict[str, object]]]:
    with ms.app.db.read() as s:
        rows = s.scalars(select(Fanout).where(Fanout.kind == "recording_ready").order_by(Fanout.id))
        return [(f.key, f.payload) for f in rows]


def test_a_teams_recording_makes_one_notice_to_the_organisers_and_no_link(ms: Tenant365) -> None:
    ms.attach_senders()
    ms.app.dispatcher.execute(ORGANISER, GrantOrganiser("kari@kommune.no"))
    planned(ms)
    [event] = ms.graph.tenant.live_events()
    assert event.join_url
    ms.graph.meetings.recorded(event.join_url, Recording("rec-1", START, END, END + timedelta(minutes=40)))
    ms.clock.set(END + timedelta(minutes=20))
    ms.m365.attendance.run_once()
    assert recording_notices(ms) == []  # Teams is still processing it
    for _ in range(3):
        ms.clock.set(ms.clock.now() + EVERY)
        ms.m365.attendance.run_once()
    assert recording_notices(ms) == [("s1:recording:rec-1", {"recording": "rec-1"})], "told once"
    ms.app.delivery.run_until_idle()
    [told] = [m for m in ms.graph.tenant.mails if m.to == ["kari@kommune.no"]]
    assert "klart til å deles" in told.subject and "ny lenke 1 https://… Opptak; type=opptak" in (
        told.text or ""
    )
    with ms.app.db.read() as s:
        assert s.scalars(select(PresentationLink)).all() == [], "Graph's content URL is no link for viewers"


def test_without_the_recording_permission_attendance_is_still_counted(ms: Tenant365) -> None:
    ms.idp.app_permissions.discard("OnlineMeetingRecording.Read.All")
    planned(ms)
    held(ms, "report-1", PEOPLE[:3])
    [event] = ms.graph.tenant.live_events()
    assert event.join_url
    ms.graph.meetings.recorded(event.join_url, Recording("rec-1", START, END, END))
    ms.clock.set(END + timedelta(minutes=30))
    assert ms.m365.attendance.run_once() == 1
    assert attendance(ms).attended == 3  # type: ignore[union-attr]
    assert recording_notices(ms) == []
