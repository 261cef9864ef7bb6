"""The delivery engine posting to Slack: Block Kit posts once, through 429s, lost answers and bad tokens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import ManualClock
from bot.models import Delivery
from bot.settings import SlackSettings
from bot.slack.client import sending_client
from bot.slack.sender import METADATA_TYPE, SlackSender
from tests.conftest import ORGANISER
from tests.fakes.slack_api import BOT_TOKEN, FakeSlackAPI, Fault, running_fake
from tests.fakes.slack_bot import buttons

CHANNEL = "C0ANNOUNCE"
Say = Callable[..., str]


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        yield running


def _sender(app: App, fake: FakeSlackAPI, token: str = BOT_TOKEN) -> SlackSender:
    settings = SlackSettings(token, "signing-secret", None, CHANNEL, fake.url)
    sender = SlackSender(sending_client(settings), settings, replace(app.settings.limits), app.renderer)
    app.delivery.add_sender(sender)
    return sender


def _posted(fake: FakeSlackAPI) -> list[dict[str, object]]:
    return fake.messages(CHANNEL)


def test_the_invitation_is_a_block_kit_post_with_a_subscribe_button(
    app: App, fake: FakeSlackAPI, say: Say
) -> None:
    _sender(app, fake)
    say(ORGANISER, "ny økt 2026-03-09 09:00 <!channel> Sirkulær økonomi; lenke=https://teams.example/m/1")
    app.delivery.run_until_idle()
    [post] = _posted(fake)
    assert "<!channel>" not in str(post["text"]) and "&lt;!channel&gt;" in str(post["text"])
    assert post["metadata"] == {
        "event_type": METADATA_TYPE,
        "event_payload": {"key": "s1:invitation|slack|C0ANNOUNCE"},
    }
    actions = {b["action_id"] for b in buttons(post["blocks"])}  # type: ignore[arg-type]
    assert "subscribe" in actions


def test_a_burst_of_429s_is_waited_out_and_each_post_goes_once(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    _sender(app, fake)
    fake.rate_limit("chat.postMessage", times=4, retry_after=30)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Tålmodighet")
    for _ in range(6):
        app.delivery.run_until_idle()
        clock.sleep(31)
    assert len(_posted(fake)) == 1
    throttled = [c for c in fake.calls("chat.postMessage") if c.status == 429]
    assert len(throttled) == 4
    with app.db.read() as s:
        row = s.scalars(select(Delivery)).one()
    assert (row.state, row.attempts) == ("sent", 1)


def test_a_lost_answer_is_checked_in_the_history_before_posting_again(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    _sender(app, fake)
    fake.fail("chat.postMessage", Fault(status=500, applied=True))
    say(ORGANISER, "ny økt 2026-03-09 09:00 Borte svar")
    app.delivery.run_until_idle()
    clock.sleep(60)
    app.delivery.run_until_idle()
    assert len(_posted(fake)) == 1  # posted once, found in the history, not posted again
    assert len(fake.calls("conversations.history")) == 1
    with app.db.read() as s:
        row = s.scalars(select(Delivery)).one()
    assert row.state == "sent" and row.in_doubt


def test_a_refused_token_fails_without_retrying(app: App, fake: FakeSlackAPI, say: Say) -> None:
    _sender(app, fake, token="xoxb-revoked")
    say(ORGANISER, "ny økt 2026-03-09 09:00 Feil nøkkel")
    app.delivery.run_until_idle()
    with app.db.read() as s:
        row = s.scalars(select(Delivery)).one()
    assert (row.state, row.last_error) == ("failed", "Slack refused: invalid_auth")
    assert len(fake.calls("chat.postMessage")) == 1


def test_organiser_notices_go_to_the_organisers_dm(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    _sender(app, fake)
    say(ORGANISER, "gi arrangør slack:U0ORG")
    say(ORGANISER, "gjentakelse første fredag i måneden 09:00-10:00")
    from jobs.recurrence import create_recurring_sessions

    create_recurring_sessions(app)
    app.delivery.run_until_idle()
    dms = fake.messages("U0ORG")
    assert len(dms) == 2  # one per session created in the next six weeks (6 March, 3 April)
    assert "trenger tittel og tema" in str(dms[0]["text"])
    # Only the organiser with a Slack identity gets a DM; the announcement channel gets invitations.
    assert set(fake.workspace.messages) == {"U0ORG", CHANNEL}


def test_reminders_go_by_dm_to_those_who_chose_it(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    from bot.commands import Actor

    _sender(app, fake)
    wants = Actor("slack", "U0WANTS", email="wants@kommune.no")
    plain = Actor("slack", "U0PLAIN", email="plain@kommune.no")
    say(wants, "meld på")
    say(plain, "meld på")
    say(wants, "dm på")
    say(ORGANISER, "ny økt 2026-03-09 09:00 Direkte")
    from datetime import UTC, datetime

    from tests.delivery_helpers import simulate

    simulate(app, clock, datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    assert len(fake.messages("U0WANTS")) == 3  # invitation and both reminders, by DM
    assert "U0PLAIN" not in fake.workspace.messages
    assert len(_posted(fake)) == 3  # invitation and two reminders in the channel


def test_a_fifth_of_calls_failing_still_delivers_every_dm_once(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    from datetime import UTC, datetime

    from bot.commands import Actor
    from tests.delivery_helpers import delivery_states, simulate

    _sender(app, fake)
    for i in range(60):
        member = Actor("slack", f"U{i:04d}", email=f"m{i}@kommune.no")
        say(member, "meld på")
        say(member, "dm på")
    fake.flaky("chat.postMessage", 0.2, seed=3)
    say(ORGANISER, "ny økt 2026-03-12 09:00 Ustabilt nett")
    simulate(app, clock, datetime(2026, 3, 12, 8, 0, tzinfo=UTC))
    failed_calls = [c for c in fake.calls("chat.postMessage") if c.status != 200]
    assert len(failed_calls) > 20
    per_dm = Counter(
        (channel, str(m["metadata"]["event_payload"]["key"]))  # type: ignore[index]
        for channel, messages in fake.workspace.messages.items()
        for m in messages
    )
    assert max(per_dm.values()) == 1
    assert len(per_dm) == 3 * 61  # invitation and two reminders, to 60 DMs and the channel
    assert delivery_states(app) == {"sent": 3 * 61}
