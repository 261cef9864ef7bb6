"""401/403 from Graph pause Microsoft sending instead of failing row after row: an expired client
secret or withdrawn consent stops every mail (or every activity notification), the rows wait
unattempted, /healthz says why, the organisers are told once through a channel that still works, and
the first probe that gets through sends everything waiting, once."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.entry.server import create_web_app
from bot.models import AuditEvent, Delivery
from handlers.microsoft365.status import channel_state, status_lines
from tests.conftest import NOW, ORGANISER, person
from tests.delivery.helpers import simulate
from tests.microsoft365.support import BOT_ID, HEALTH_TOKEN, KARI, Tenant365, tenant365
from tests.web.support import TestClient

MEMBERS = 6
KARI_TEAMS = Actor("teams", KARI, email="kari@kommune.no")


@pytest.fixture
def ms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant365]:
    with tenant365(db_url, ManualClock(NOW), monkeypatch) as tenant:
        tenant.login()
        tenant.attach_senders()
        yield tenant


def members(ms: Tenant365, count: int = MEMBERS) -> None:
    for i in range(count):
        ms.say(person(f"m{i}@kommune.no"), "meld på")


def rows(ms: Tenant365, channel: str) -> Counter[tuple[str, int]]:
    with ms.app.db.read() as s:
        found = s.execute(select(Delivery.state, Delivery.attempts).where(Delivery.channel == channel))
        return Counter((state, attempts) for state, attempts in found)


def health(ms: Tenant365) -> dict[str, object]:
    settings = replace(ms.app.settings, health_token=HEALTH_TOKEN)
    with TestClient(create_web_app(replace(ms.app, settings=settings))) as client:
        answer = client.get("/healthz", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    assert answer.status_code == 200
    body: dict[str, object] = answer.json()
    return body


def audit(ms: Tenant365) -> list[str]:
    with ms.app.db.read() as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("channel.%"))))


def reminders(ms: Tenant365) -> list[str]:
    return [m.to[0] for m in ms.graph.tenant.mails if "X-Baerekraft-Delivery" in m.headers]


def notices(ms: Tenant365) -> list[tuple[str, str]]:
    """The organisers' notices in the Teams activity feed: (user, title)."""
    feed = ms.graph.tenant.activities
    return [(u, b["topic"]["value"]) for u, b in feed if "stoppet" in b["topic"]["value"]]


def test_withdrawn_mail_consent_pauses_mail_until_it_is_granted_again(
    ms: Tenant365, caplog: pytest.LogCaptureFixture
) -> None:
    members(ms)
    ms.say(KARI_TEAMS, "meld på")
    ms.say(ORGANISER, "gi arrangør teams:" + KARI)
    ms.add_session(NOW + timedelta(days=2))
    ms.idp.withdraw("Mail.Send")
    ms.idp.expire_access_tokens()  # the token with the role runs out; the next lacks it
    with caplog.at_level(logging.INFO):
        simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=1))

    # Every reminder mail waits, unattempted; one sendMail met the 403 (and each probe one more).
    assert rows(ms, "email") == {("pending", 0): MEMBERS + 1}
    assert reminders(ms) == []
    refused = ms.graph.count("POST", "/sendMail$", successful_only=False)
    assert 1 <= refused <= 12  # the first send, then a probe a minute, growing to ten
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([m for m in said if "email: sending paused" in m]) == 1
    assert not [m for m in said if "failed" in m]
    report = health(ms)
    assert report["status"] == "degraded"
    assert report["channels"]["email"].startswith("degraded: sending paused: ")  # type: ignore[index]
    assert "Mail.Send" in report["channels"]["email"]  # type: ignore[index]
    assert "(permission)" in report["channels"]["email"]  # type: ignore[index]
    # `teams status` (another process) says so too, and needs an operator.
    [paused] = [line for line in status_lines(ms.m365, check=False) if "PAUSED" in line]
    assert paused.startswith("email sending PAUSED since ") and "Mail.Send" in paused
    assert channel_state(ms.m365).startswith("degraded: ") and "sending paused" in channel_state(ms.m365)
    # Teams goes on, and the organiser is told there, once, with what to do.
    assert rows(ms, "teams")[("sent", 1)] >= 2
    [(who, title)] = notices(ms)
    assert who == KARI and "e-post" in title
    [body] = [b for u, b in ms.graph.tenant.activities if b["topic"]["value"] == title]
    assert "Mail.Send" in body["previewText"]["content"] or "tillatelse" in body["previewText"]["content"]
    assert audit(ms) == ["channel.paused"]

    # Consent granted again: the next probe gets a new token with the role, and the rest follows.
    ms.idp.grant("Mail.Send")
    simulate(ms.app, ms.clock, ms.clock.now() + timedelta(minutes=11))
    assert rows(ms, "email") == {("sent", 1): MEMBERS + 1}
    assert sorted(Counter(reminders(ms)).values()) == [1] * (MEMBERS + 1)
    assert ms.app.delivery.paused() == []
    report = health(ms)
    assert "email" not in report["channels"] and "paused" not in report  # type: ignore[operator]
    assert audit(ms) == ["channel.paused", "channel.resumed"]
    assert len(notices(ms)) == 1
    assert not [line for line in status_lines(ms.m365, check=False) if "PAUSED" in line]


def test_an_expired_client_secret_pauses_mail_and_the_activity_feed_not_channel_posts(
    ms: Tenant365,
) -> None:
    members(ms, 3)
    ms.say(KARI_TEAMS, "meld på")
    ms.say(ORGANISER, "gi arrangør teams:" + KARI)
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(days=1) - timedelta(minutes=5))  # the invitations
    ms.idp.expire_client_secret()
    ms.idp.expire_access_tokens()
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=30))

    # Four reminders and the notice about Teams to the organiser's address: all wait.
    assert rows(ms, "email") == {("pending", 0): 5}
    with ms.app.db.read() as s:
        teams = Counter(
            (target.split(":")[0], state, attempts)
            for target, state, attempts in s.execute(
                select(Delivery.target, Delivery.state, Delivery.attempts).where(Delivery.channel == "teams")
            )
        )
    # Channel posts are the service account's (its own login): they go out. Kari's feed waits.
    assert teams[("user", "pending", 0)] >= 1 and not any(k[1] == "failed" for k in teams)
    assert len(ms.graph.tenant.channel_posts(by=BOT_ID)) == 2
    paused = {(p["channel"], p["problem"]) for p in health(ms)["paused"]}  # type: ignore[attr-defined]
    assert paused == {("email", "credentials"), ("teams", "credentials")}
    reasons = {p["reason"] for p in health(ms)["paused"]}  # type: ignore[attr-defined]
    assert all("AADSTS7000222" in r for r in reasons)
    assert "client_secret" not in str(health(ms)) and "fake-client-secret" not in str(health(ms))


def test_a_channel_post_refused_holds_the_channel_while_the_activity_feed_goes_on(ms: Tenant365) -> None:
    ms.say(KARI_TEAMS, "meld på")
    ms.add_session(NOW + timedelta(days=2))
    simulate(ms.app, ms.clock, NOW + timedelta(days=1) - timedelta(minutes=5))  # the invitations
    ms.idp.delegated_permissions.discard("ChannelMessage.Send")
    ms.idp.expire_access_tokens()
    simulate(ms.app, ms.clock, NOW + timedelta(days=1, minutes=30))

    assert len(ms.graph.tenant.channel_posts(by=BOT_ID)) == 1  # the invitation, before
    with ms.app.db.read() as s:
        found = Counter(
            (target, state)
            for target, state in s.execute(
                select(Delivery.target, Delivery.state).where(Delivery.channel == "teams")
            )
        )
    # The channel's reminder waits; Kari's invitation and reminder reached her feed.
    assert found == {("channel", "sent"): 1, ("channel", "pending"): 1, (f"user:{KARI}", "sent"): 2}
    assert [u for u, _ in ms.graph.tenant.activities] == [KARI, KARI]  # invitation, reminder
    [hold] = ms.app.delivery.paused()
    assert (hold.channel, hold.target) == ("teams", "channel")
    assert "ChannelMessage.Send" in hold.reason

    ms.idp.delegated_permissions.add("ChannelMessage.Send")
    simulate(ms.app, ms.clock, ms.clock.now() + timedelta(minutes=11))
    assert len(ms.graph.tenant.channel_posts(by=BOT_ID)) == 2
    assert ms.app.delivery.paused() == []


@pytest.mark.parametrize(
    ("channel", "problem", "target", "says"),
    [
        ("email", "permission", None, "Grant admin consent"),
        ("teams", "credentials", "user:*", "MS_CLIENT_SECRET"),
        ("teams", "permission", "channel", "ChannelMessage.Send"),
    ],
)
def test_the_organisers_notice_says_what_to_do_in_microsoft_365(
    ms: Tenant365, channel: str, problem: str, target: str | None, says: str
) -> None:
    payload = {"channel": channel, "problem": problem, "reason": "403", "target": target, "since": NOW}
    for language in ("nb", "en"):
        text = ms.app.renderer.render(
            "messages/channel_down.txt", {"payload": payload}, language=language, timezone="Europe/Oslo"
        )
        assert says in text and "Entra admin center" in text
    subject = ms.app.renderer.render(
        "messages/channel_down.subject.txt", {"payload": payload}, language="en", timezone="Europe/Oslo"
    )
    assert ("cannot post in its Teams channel" in subject) == (target == "channel")


@pytest.mark.parametrize("target", ["user:*", None])
def test_a_paused_activity_feed_is_not_called_a_stop_of_all_teams_messages(
    ms: Tenant365, target: str | None
) -> None:
    """The feed pauses on its own (a hold on `user:*`) while channel posts go on: the notice must say
    so, in every language, instead of «every message through Teams»."""
    payload = {"channel": "teams", "problem": "credentials", "reason": "401", "target": target, "since": NOW}
    goes_on = {
        "nb": "innlegg i Teams-kanalen går som før",
        "en": "posts in the Teams channel go out as before",
        "da": "opslag i Teams-kanalen går som før",
        "nn": "innlegg i Teams-kanalen går som før",
    }
    for language, words in goes_on.items():
        text = ms.app.renderer.render(
            "messages/channel_down.txt", {"payload": payload}, language=language, timezone="Europe/Oslo"
        )
        assert (words in text) == (target == "user:*"), (language, text)
        assert ("Teams" in text.split(".")[0]) and "MS_CLIENT_SECRET" in text
