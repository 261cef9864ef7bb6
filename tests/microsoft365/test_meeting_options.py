"""A session's Teams meeting set up as a public webinar (handlers.microsoft365.meeting_options)
against the fake Graph's onlineMeetings: lobby bypass for everyone, the speakers in the tenant as
presenters, recording on; once per meeting, again for a new meeting or new speakers; a failure shown
by `teams status` and never in the way of the invitation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.models import AuditEvent
from handlers.microsoft365.client import Auth
from handlers.microsoft365.errors import GraphError, GraphNotFound
from handlers.microsoft365.meeting_options import PERMISSION, options_body, speakers_of
from handlers.microsoft365.models import GraphEvent
from handlers.microsoft365.status import channel_state, status_lines
from tests.conftest import NOW, ORGANISER, person
from tests.microsoft365.fakes.graph_meetings import OnlineMeeting
from tests.microsoft365.support import JOHN, KARI, ORGANISER_ID, Tenant365, tenant365

MEETINGS = r"/onlineMeetings"
OTHER = person("per@kommune.no")


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        yield tenant


def meeting(ms: Tenant365) -> OnlineMeeting:
    [event] = ms.graph.tenant.live_events()
    assert event.join_url
    found = ms.graph.meetings.of(event.join_url)
    assert found is not None
    return found


def presenters(found: OnlineMeeting) -> list[str]:
    attendees = found.options["participants"]["attendees"]
    return sorted(a["identity"]["user"]["id"] for a in attendees if a["role"] == "presenter")


def roles(found: OnlineMeeting) -> dict[str, str]:
    attendees = found.options["participants"]["attendees"]
    return {a["identity"]["user"]["id"]: a["role"] for a in attendees if "identity" in a}


def invitation_due(ms: Tenant365, session_id: int) -> None:
    ms.clock.set(ms.session(session_id).start_at - timedelta(days=7, minutes=-1))
    ms.app.delivery.plan()


def test_a_new_meeting_is_set_up_as_a_webinar_with_the_speakers_presenting(ms: Tenant365) -> None:
    ms.add_session(NOW + timedelta(days=10), speakers="Kari Nordmann, Gunnar fra Bergen kommune")
    ms.m365.calendar.run_once()
    found = meeting(ms)
    assert found.options["lobbyBypassSettings"] == {"scope": "everyone", "isDialInBypassEnabled": True}
    assert found.options["recordAutomatically"] is True
    assert found.options["allowedPresenters"] == "roleIsPresenter"
    assert presenters(found) == [KARI], "only the speaker who is in the tenant presents"
    with ms.app.db.read() as s:
        [audited] = s.scalars(select(AuditEvent).where(AuditEvent.action == "session.meeting_options_set"))
    assert (audited.subject_type, audited.details) == ("session", {"presenters": 1})
    assert ms.graph.calls[-1].method == "PATCH" and f"/users/{ORGANISER_ID}/" in ms.graph.calls[-1].path


def test_attendees_already_on_the_meeting_stay_on_it(ms: Tenant365) -> None:
    session_id = ms.add_session(NOW + timedelta(days=10), speakers="Kari Nordmann")
    ms.m365.calendar.run_once()
    found = meeting(ms)
    guest = {"upn": "gunnar@bergen.kommune.no", "role": "attendee", "identity": {}}
    found.options["participants"]["attendees"].append(guest)  # e.g. added in Teams' meeting options
    ms.say(ORGANISER, f"endre økt {session_id} foredragsholdere=John Smith")
    ms.m365.calendar.run_once()
    attendees = found.options["participants"]["attendees"]
    assert {"upn": "gunnar@bergen.kommune.no", "role": "attendee"} in attendees
    assert presenters(found) == [JOHN]


def test_a_speaker_given_by_address_presents(ms: Tenant365) -> None:
    ms.add_session(NOW + timedelta(days=10), speakers="John Smith <john@example.org> og Kari Nordmann")
    ms.m365.calendar.run_once()
    assert presenters(meeting(ms)) == sorted([JOHN, KARI])


def test_without_speakers_in_the_tenant_only_the_organiser_presents(ms: Tenant365) -> None:
    ms.add_session(NOW + timedelta(days=10), speakers="Gunnar fra Bergen")
    ms.m365.calendar.run_once()
    found = meeting(ms)
    assert found.options["allowedPresenters"] == "organizer"
    assert "participants" not in found.patches[-1]
    assert found.options["lobbyBypassSettings"]["scope"] == "everyone"


def test_the_options_are_set_once_per_meeting(ms: Tenant365) -> None:
    ms.say(ORGANISER, "meld på")
    session_id = ms.add_session(NOW + timedelta(days=10), speakers="Kari Nordmann")
    ms.m365.calendar.run_once()
    invitation_due(ms, session_id)
    ms.m365.calendar.run_once()
    ms.say(OTHER, "meld på")
    ms.m365.calendar.run_once()
    ms.m365.calendar.run_once()
    assert ms.graph.count("PATCH", MEETINGS) == 1
    assert ms.graph.count("GET", MEETINGS) == 1


def test_new_speakers_make_new_presenters_and_the_old_one_an_attendee(ms: Tenant365) -> None:
    session_id = ms.add_session(NOW + timedelta(days=10), speakers="Kari Nordmann")
    ms.m365.calendar.run_once()
    ms.say(ORGANISER, f"endre økt {session_id} foredragsholdere=John Smith")
    ms.m365.calendar.run_once()
    found = meeting(ms)
    assert presenters(found) == [JOHN]
    assert roles(found) == {JOHN: "presenter", KARI: "attendee"}, "the full attendee list, as Graph wants it"


def test_a_meeting_made_again_gets_the_options_again(ms: Tenant365) -> None:
    ms.say(OTHER, "meld på")
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    first = meeting(ms)
    ms.graph.tenant.delete_in_outlook(ms.graph.tenant.live_events()[0])
    invitation_due(ms, session_id)
    ms.m365.calendar.run_once()  # finds the event gone
    ms.m365.calendar.run_once()  # makes it again
    second = meeting(ms)
    assert second.id != first.id
    assert second.options["lobbyBypassSettings"]["scope"] == "everyone"
    assert second.options["recordAutomatically"] is True
    assert ms.graph.count("PATCH", MEETINGS) == 2


def test_an_organisers_own_meeting_link_is_left_alone(ms: Tenant365) -> None:
    ms.add_session(NOW + timedelta(days=10), join_url="https://teams.example/m/own")
    ms.m365.calendar.run_once()
    assert ms.graph.count("GET", MEETINGS, successful_only=False) == 0


def test_without_the_permission_the_invitation_goes_and_teams_status_says_why(ms: Tenant365) -> None:
    ms.login()
    ms.idp.app_permissions.discard(PERMISSION)
    ms.say(OTHER, "meld på")
    session_id = ms.add_session(NOW + timedelta(days=10), speakers="Kari Nordmann")
    ms.m365.calendar.run_once()
    tried = ms.graph.count("GET", MEETINGS, successful_only=False)  # a 403 is asked once more, fresh
    ms.clock.advance(timedelta(minutes=1))
    ms.m365.calendar.run_once()
    assert ms.graph.count("GET", MEETINGS, successful_only=False) == tried, "not retried at every pass"
    invitation_due(ms, session_id)
    ms.m365.calendar.run_once()
    [event] = ms.graph.tenant.live_events()
    assert event.attendees == ["per@kommune.no"], "the invitation is not held up"
    lines = status_lines(ms.m365, check=False)
    [problem] = [line for line in lines if "meeting options PROBLEM" in line]
    assert f"session {session_id}" in problem and PERMISSION in problem and "access policy" in problem
    assert channel_state(ms.m365).startswith("degraded: meeting options")

    # Granted: the next attempt after a while sets them, and the problem is gone.
    ms.idp.app_permissions.add(PERMISSION)
    ms.idp.expire_access_tokens()  # a token shows a new grant once it is renewed (within the hour)
    ms.clock.advance(timedelta(minutes=16))
    ms.m365.calendar.run_once()
    assert meeting(ms).options["recordAutomatically"] is True
    assert not [line for line in status_lines(ms.m365, check=False) if "PROBLEM" in line]
    assert channel_state(ms.m365) == "on"


def test_a_problem_ends_with_its_session(ms: Tenant365) -> None:
    ms.login()
    ms.graph.meetings.policy_users = set()
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    assert channel_state(ms.m365).startswith("degraded: meeting options")
    ms.clock.set(ms.session(session_id).start_at + timedelta(hours=2))
    assert channel_state(ms.m365) == "on", "a session that is over needs no operator"
    assert not [line for line in status_lines(ms.m365, check=False) if "PROBLEM" in line]


def test_teams_status_checks_the_access_before_any_meeting_needs_it(ms: Tenant365) -> None:
    assert "meeting options access: ok" in status_lines(ms.m365)
    ms.graph.meetings.policy_users = set()
    [line] = [line for line in status_lines(ms.m365) if line.startswith("meeting options access")]
    assert line.startswith("meeting options access: FAILED") and "403" in line


def test_without_an_application_access_policy_the_problem_is_named(ms: Tenant365) -> None:
    ms.graph.meetings.policy_users = set()
    ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    with ms.app.db.read() as s:
        [row] = s.scalars(select(GraphEvent))
    assert row.options_problem and "403" in row.options_problem and "access policy" in row.options_problem
    assert row.options_digest is None


# --- the fake is as strict as Graph -------------------------------------------------------------


def call(ms: Tenant365, method: str, path: str, **kwargs: Any) -> Any:
    return ms.m365.client.call(method, path, auth=Auth.APP, permission=PERMISSION, **kwargs)


def made_meeting(ms: Tenant365) -> OnlineMeeting:
    ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    return meeting(ms)


def test_the_fake_wants_the_filter_and_the_organisers_object_id(ms: Tenant365) -> None:
    found = made_meeting(ms)
    base = f"/users/{ORGANISER_ID}/onlineMeetings"
    with pytest.raises(GraphError, match="400"):
        call(ms, "GET", base)
    with pytest.raises(GraphNotFound):
        call(ms, "GET", "/users/baerekraft@ks.example/onlineMeetings", params={"$filter": "x"})
    answer = call(ms, "GET", base, params={"$filter": f"JoinWebUrl eq '{found.join_url}'"}).object()
    assert [m["id"] for m in answer["value"]] == [found.id]
    none = call(ms, "GET", base, params={"$filter": "JoinWebUrl eq 'https://teams.example/nope'"}).object()
    assert none["value"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"lobbyBypassSettings": {"scope": "everyone"}, "isRecorded": True},
        {"lobbyBypassSettings": {"scope": "anyone"}},
        {"allowedPresenters": "speakers"},
        {"allowedPresenters": "roleIsPresenter"},
        {"participants": {"organizer": {"identity": {"user": {"id": KARI}}}}},
        {"participants": {"attendees": [{"identity": {"user": {"id": "nobody"}}, "role": "presenter"}]}},
        {"recordAutomatically": "yes"},
    ],
    ids=["unknown-property", "scope", "presenters", "no-attendees", "organizer", "unknown-user", "bool"],
)
def test_the_fake_refuses_what_graph_refuses(ms: Tenant365, body: dict[str, Any]) -> None:
    found = made_meeting(ms)
    with pytest.raises(GraphError, match="400"):
        call(ms, "PATCH", f"/users/{ORGANISER_ID}/onlineMeetings/{found.id}", json=body)
    assert len(found.patches) == 1, "only the bot's own PATCH went through"


def test_the_fake_answers_404_for_an_unknown_meeting(ms: Tenant365) -> None:
    made_meeting(ms)
    with pytest.raises(GraphNotFound):
        call(
            ms, "PATCH", f"/users/{ORGANISER_ID}/onlineMeetings/MSo-nope", json={"recordAutomatically": True}
        )


# --- pure parts ---------------------------------------------------------------------------------


def test_speakers_are_read_as_names_or_addresses() -> None:
    assert speakers_of("Kari Nordmann, Ola <Ola@KS.no>; Per og Pål and Anne") == [
        "Kari Nordmann",
        "ola@ks.no",
        "Per",
        "Pål",
        "Anne",
    ]
    assert speakers_of(None) == [] and speakers_of(" , ") == []


def test_the_body_without_presenters_names_no_participants() -> None:
    assert options_body([], []) == {
        "lobbyBypassSettings": {"scope": "everyone", "isDialInBypassEnabled": True},
        "recordAutomatically": True,
        "allowedPresenters": "organizer",
    }
