"""The Exchange invitation, the same for every attendee, links to the series' leave page, where an
address can leave (the link survives every update), against the fake Graph and the real web routes."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.entry.server import create_web_app
from handlers.web.channel import WebChannel
from tests.conftest import NOW, ORGANISER
from tests.microsoft365.support import PUBLIC, Tenant365, tenant365

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

LEAVE = f"{PUBLIC}/s/baerekraftsfredag/leave"


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        yield tenant


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_the_invitation_links_to_a_page_where_an_address_can_leave(ms: Tenant365) -> None:
    ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    [event] = ms.graph.tenant.live_events()
    assert LEAVE in hrefs(event.body)

    web = ms.app.channel(WebChannel)
    assert web is not None
    with TestClient(create_web_app(ms.app, web.routes()), base_url=PUBLIC) as browser:
        page = browser.get(LEAVE.removeprefix(PUBLIC))
    assert page.status_code == 200
    assert 'name="email"' in page.text
    assert 'action="/s/baerekraftsfredag/leave"' in page.text


def test_the_link_stays_when_the_title_changes(ms: Tenant365) -> None:
    session_id = ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    ms.say(ORGANISER, f"endre økt {session_id} tittel=Ny tittel")
    ms.m365.calendar.run_once()
    [event] = ms.graph.tenant.live_events()
    assert "Ny tittel" in event.body
    assert LEAVE in hrefs(event.body)
    assert event.join_url and event.join_url in event.body, "the join section is kept as well"


def test_without_a_public_address_the_invitation_says_how_to_leave_otherwise(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant365(db_url, ManualClock(NOW), monkeypatch, public_base_url="") as ms:
        ms.add_session(NOW + timedelta(days=10))
        ms.m365.calendar.run_once()
        [event] = ms.graph.tenant.live_events()
    assert "/leave" not in event.body and "/invite" not in event.body
    assert "meld av" in event.body


def test_the_invitation_asks_attendees_to_bring_a_colleague(ms: Tenant365) -> None:
    ms.add_session(NOW + timedelta(days=10))
    ms.m365.calendar.run_once()
    [event] = ms.graph.tenant.live_events()
    assert f"{PUBLIC}/s/baerekraftsfredag/invite" in hrefs(event.body)
    assert "Inviter en kollega" in event.body
