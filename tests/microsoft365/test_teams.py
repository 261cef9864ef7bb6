"""The Teams sender with the delivery engine against the fake Graph: channel posts as the signed-in
service account (HTML escaped), activity-feed notifications app-only, waiting for a login, and a
post in doubt looked up instead of posted twice."""

from __future__ import annotations

import json
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
from handlers.microsoft365.client import Auth
from handlers.microsoft365.errors import GraphError
from handlers.microsoft365.teams_sender import TeamsSender
from tests.conftest import NOW, ORGANISER
from tests.delivery.helpers import simulate
from tests.microsoft365.fakes.graph_teams import CARD
from tests.microsoft365.fakes.graph_tenant import Message
from tests.microsoft365.support import BOT_ID, JOHN, KARI, PUBLIC, Tenant365, tenant365

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
    # The title is plain text in the card (never markup or a mention), and nothing else is in the body.
    assert all(HOSTILE in " ".join(card_texts(p)) and "<at>" not in p.html for p in posts)
    notified = [(user, body["topic"]["value"].split(":")[0]) for user, body in ms.graph.tenant.activities]
    assert notified == [(KARI, "Invitasjon"), (KARI, "Påminnelse")]
    assert all(body["activityType"] == "announcement" for _, body in ms.graph.tenant.activities)
    # Kari and John are notified in one call each time; Graph accepts it whoever has the Teams app
    # (202, no word per person), so John's rows are sent though he gets nothing.
    assert teams_states(ms) == {("channel", "sent"): 2, ("user", "sent"): 4}
    assert ms.graph.tenant.bulk_calls == [2, 2]


def card_texts(post: Message) -> list[str]:
    [card] = post.cards()
    return [run["text"] for block in card["body"] for run in block.get("inlines", [])]


def test_the_channel_post_is_an_adaptive_card_with_buttons_and_true_instructions(ms: Tenant365) -> None:
    ms.login()
    ms.add_session(NOW + timedelta(days=2), "Sirkulær **økonomi** [klikk](https://evil.example)")
    simulate(ms.app, ms.clock, NOW + timedelta(minutes=1))
    [post] = ms.graph.tenant.channel_posts(by=BOT_ID)
    [attachment] = post.attachments
    assert post.html == f'<attachment id="{attachment["id"]}"></attachment>'
    [card] = post.cards()
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    # Text goes in TextRuns, which Teams never reads as markdown: the title cannot make a link.
    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}
    texts = " ".join(card_texts(post))
    assert "Sirkulær **økonomi** [klikk](https://evil.example)" in texts
    assert "Skriv «!baerekraft meld på»" in texts  # how to write a command in the channel: the prefix
    buttons = {a["title"]: a["url"] for a in card["actions"]}
    assert all(a["type"] == "Action.OpenUrl" for a in card["actions"])
    assert buttons["Meld meg på"] == f"{PUBLIC}/s/baerekraftsfredag/subscribe"
    assert buttons["Meld meg av"] == f"{PUBLIC}/s/baerekraftsfredag/leave"
    [event] = ms.graph.tenant.live_events()
    assert buttons["Bli med i Teams-møtet"] == event.join_url
    # Later posts say where and how: a reply in the thread, with the prefix or a mention.
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))
    reminder = ms.graph.tenant.channel_posts(by=BOT_ID)[-1]
    assert "Svar i denne tråden med «!baerekraft meld på»" in " ".join(card_texts(reminder))


def test_a_follow_up_too_long_for_one_post_is_cut_to_fit_teams_28_kb(ms: Tenant365) -> None:
    ms.login()
    session_id = ms.add_session(NOW - timedelta(hours=4), allow_past=True)
    for i in range(250):
        url = f"https://ks.no/lysark/{i:03d}-sirkulaer-okonomi-i-kommunene-del-{i}.pdf"
        ms.say(ORGANISER, f"ny lenke {session_id} {url} Lysark {i}: sirkulær økonomi i kommunene")
    simulate(ms.app, ms.clock, NOW + timedelta(hours=2))
    [post] = ms.graph.tenant.channel_posts(by=BOT_ID)
    texts = card_texts(post)
    assert "…" in texts and "Lysark 0: sirkulær økonomi i kommunene" in " ".join(texts)
    assert teams_states(ms)[("channel", "sent")] == 1
    assert ms.graph.count("POST", "/channels/[^/]+/messages$", successful_only=False) == 1


def test_graph_refuses_a_card_the_message_body_does_not_name(ms: Tenant365) -> None:
    ms.login()
    card = {"type": "AdaptiveCard", "version": "1.4", "body": []}
    attachment = {"id": "card-1", "contentType": CARD, "content": json.dumps(card)}
    for content, attached in (("<p>hei</p>", attachment), ('<attachment id="card-1"></attachment>', None)):
        body = {"body": {"contentType": "html", "content": content}}
        if attached is not None:
            body["attachments"] = [attached]
        with pytest.raises(GraphError) as refused:
            ms.m365.client.call(
                "POST",
                f"{ms.m365.teams.channel_path}/messages",
                auth=Auth.USER,
                permission="ChannelMessage.Send",
                json=body,
            )
        assert refused.value.status == 400
    assert ms.graph.tenant.channel_posts() == []


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
