"""The Teams sender with the delivery engine against the fake Graph: channel posts as the signed-in
service account (HTML escaped), activity-feed notifications app-only, waiting for a login, and a
post in doubt looked up instead of posted twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.delivery import kinds
from bot.delivery.channels import Recipient
from bot.models import Delivery
from bot.views import SeriesView
from handlers.microsoft365.teams_sender import TeamsSender
from tests.conftest import NOW
from tests.delivery.helpers import simulate
from tests.microsoft365.support import BOT_ID, JOHN, KARI, Tenant365, tenant365

HOSTILE = "Likestilling <b>nå</b> & <at>alle</at>"


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        tenant.attach_senders()
        yield tenant


def teams_states(ms: Tenant365) -> Counter[tuple[str, str]]:
    with ms.app.db.read() as s:
        rows = s.execute(select(Delivery.target, Delivery.state).where(Delivery.channel == "teams"))
        return Counter((target.split(":")[0], state) for target, state in rows)


def subscribe_in_teams(ms: Tenant365, user_id: str, email: str) -> None:
    ms.say(Actor("teams", user_id, email=email), "meld på")


def test_posts_in_the_channel_and_notifications_in_the_activity_feed(ms: Tenant365) -> None:
    ms.login()
    subscribe_in_teams(ms, KARI, "kari@kommune.no")
    subscribe_in_teams(ms, JOHN, "john@example.org")
    ms.graph.tenant.users[JOHN].app_installed = False
    ms.add_session(NOW + timedelta(days=2), HOSTILE)
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
    posts = ms.graph.tenant.channel_posts(by=BOT_ID)
    assert [p.subject.split(":")[0] for p in posts if p.subject] == ["Invitasjon", "Påminnelse"]
    assert all("&lt;b&gt;nå&lt;/b&gt; &amp; &lt;at&gt;" in p.html and "<at>" not in p.html for p in posts)
    notified = [(user, body["topic"]["value"].split(":")[0]) for user, body in ms.graph.tenant.activities]
    assert notified == [(KARI, "Invitasjon"), (KARI, "Påminnelse")]
    assert all(body["activityType"] == "announcement" for _, body in ms.graph.tenant.activities)
    assert teams_states(ms) == {("channel", "sent"): 2, ("user", "sent"): 2, ("user", "failed"): 2}
    with ms.app.db.read() as s:
        errors = s.scalars(select(Delivery.last_error).where(Delivery.state == "failed")).all()
    assert all("Teams app installed" in (e or "") for e in errors)


def test_channel_posts_wait_for_a_login_while_the_activity_feed_goes_on(ms: Tenant365) -> None:
    subscribe_in_teams(ms, KARI, "kari@kommune.no")
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(minutes=1))
    assert teams_states(ms) == {("channel", "pending"): 1, ("user", "sent"): 1}
    assert ms.graph.tenant.channel_posts() == []
    ms.login()
    simulate(ms.app, ms.clock, NOW + timedelta(minutes=10))
    assert teams_states(ms) == {("channel", "sent"): 1, ("user", "sent"): 1}
    assert len(ms.graph.tenant.channel_posts(by=BOT_ID)) == 1


def test_a_post_whose_answer_was_lost_is_found_not_posted_again(ms: Tenant365) -> None:
    ms.login()
    ms.graph.fail("POST", "/channels/[^/]+/messages$", status=504, retry_after=None, after=True)
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(minutes=5))
    assert len(ms.graph.tenant.channel_posts(by=BOT_ID)) == 1
    assert teams_states(ms) == {("channel", "sent"): 1}
    assert ms.graph.count("GET", "/channels/[^/]+/messages$") == 1


def test_throttled_posts_go_out_after_retry_after(ms: Tenant365) -> None:
    ms.login()
    ms.graph.fail("POST", "/channels/[^/]+/messages$", status=429, retry_after=30, times=3)
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(minutes=5))
    assert len(ms.graph.tenant.channel_posts(by=BOT_ID)) == 1


def test_organiser_notices_are_personal_only(ms: Tenant365) -> None:
    sender = next(s for s in ms.m365.senders() if isinstance(s, TeamsSender))
    series = SeriesView(1, "baerekraftsfredag", "Bærekraftsfredag", "nb", "Europe/Oslo", None)
    people = [Recipient(1, "nb", identities={"teams": KARI}), Recipient(2, "en", email="x@y.no")]
    assert [t.target for t in sender.audience(kinds.TOPIC_NEEDED, series, people)] == [f"user:{KARI}"]
    assert [t.target for t in sender.audience(kinds.REMINDER, series, people)] == ["channel", f"user:{KARI}"]


def test_activity_links_point_at_the_teams_of_the_configured_cloud(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gov = "https://gov.teams.microsoft.us"
    with tenant365(db_url, ManualClock(NOW), monkeypatch, teams_web_url=gov) as ms:
        ms.attach_senders()
        ms.login()
        subscribe_in_teams(ms, KARI, "kari@kommune.no")
        ms.add_session(NOW + timedelta(days=2))
        simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
        links = {body["topic"]["webUrl"] for _, body in ms.graph.tenant.activities}
    # The fake's join links are the global cloud's: in the US Government cloud, Teams' own home instead.
    assert links == {gov}
