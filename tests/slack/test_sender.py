"""The delivery engine posting to Slack: Block Kit posts once, through 429s, lost answers and bad tokens."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import Actor
from bot.delivery.channels import OutgoingMessage
from bot.entry.composition import App, build
from bot.entry.settings import BotSettings
from bot.models import Delivery
from bot.parser import parse
from handlers.slack.client import sending_client
from handlers.slack.sender import METADATA_TYPE, WORKSPACE_BURST, SlackSender
from handlers.slack.settings import SlackSettings
from tests.conftest import ORGANISER
from tests.slack.fakes.slack_api import BOT_TOKEN, FakeSlackAPI, Fault, running_fake
from tests.slack.fakes.slack_bot import buttons

CHANNEL = "C0ANNOUNCE"
Say = Callable[..., str]


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with running_fake() as running:
        yield running


def _sender(
    app: App, fake: FakeSlackAPI, token: str = BOT_TOKEN, *, url: str | None = None, timeout: float = 10
) -> SlackSender:
    settings = SlackSettings(token, "signing-secret", None, CHANNEL, url or fake.url)
    if CHANNEL not in fake.workspace.conversations:
        fake.add_channel(CHANNEL, "baerekraft", member=True)
    client = sending_client(settings, timeout=timeout)
    sender = SlackSender(client, settings, app.renderer)
    app.delivery.add_sender(sender)
    return sender


def _row(app: App) -> Delivery:
    with app.db.read() as s:
        return s.scalars(select(Delivery)).one()


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


def test_a_refused_token_pauses_slack_instead_of_failing_the_post(
    app: App, fake: FakeSlackAPI, say: Say
) -> None:
    _sender(app, fake, token="xoxb-revoked")
    say(ORGANISER, "ny økt 2026-03-09 09:00 Feil nøkkel")
    app.delivery.run_until_idle()
    with app.db.read() as s:
        row = s.scalars(select(Delivery)).one()
    assert (row.state, row.attempts, row.last_error) == ("pending", 0, "held: invalid_auth")
    assert len(fake.calls("chat.postMessage")) == 1
    assert [(h.channel, h.whole, h.reason) for h in app.delivery.paused()] == [
        ("slack", True, "invalid_auth")
    ]


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
    # One per session created in the next six weeks: 6 March (3 April is Good Friday, a holiday).
    assert len(dms) == 1
    assert "trenger tittel og tema" in str(dms[0]["text"])
    # Only the organiser with a Slack identity gets a DM; the announcement channel gets nothing
    # while the sessions are drafts, until an organiser gives them a title.
    assert set(fake.posted()) == {"U0ORG"}
    say(ORGANISER, "endre økt 1 tittel=Sirkulær økonomi")
    app.delivery.run_until_idle()
    assert set(fake.posted()) == {"U0ORG", CHANNEL}


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

    from tests.delivery.helpers import simulate

    simulate(app, clock, datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    assert len(fake.messages("U0WANTS")) == 3  # invitation and both reminders, by DM
    assert "U0PLAIN" not in fake.posted()
    # In the channel: the invitation, with both reminders in its thread (the last one shown in the
    # channel as well).
    [invitation, last] = _posted(fake)
    assert len(fake.thread(CHANNEL, str(invitation["ts"]))) == 2 and last["subtype"] == "thread_broadcast"


def test_a_fifth_of_calls_failing_still_delivers_every_dm_once(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say
) -> None:
    from datetime import UTC, datetime

    from bot.commands import Actor
    from tests.delivery.helpers import delivery_states, simulate

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
        (channel, str(m["metadata"]["event_payload"]["key"]))
        for channel, messages in [*fake.posted().items(), *fake.replies_posted().items()]
        for m in messages
        if m.get("subtype") != "thread_broadcast"  # a reply shown in the channel as well
    )
    assert max(per_dm.values()) == 1
    assert len(per_dm) == 3 * 61  # invitation and two reminders, to 60 DMs and the channel
    assert delivery_states(app) == {"sent": 3 * 61}


@pytest.mark.parametrize(
    ("fault", "state", "attempts", "in_doubt", "error"),
    [
        (Fault(status=429, retry_after=30), "pending", 0, False, "throttled: Slack rate limit (ratelimited)"),
        (Fault(status=503), "pending", 1, True, "Slack HTTP 503"),
        (Fault(status=500, applied=True), "pending", 1, True, "Slack HTTP 500"),
        (Fault(error="invalid_blocks"), "failed", 1, False, "Slack refused: invalid_blocks"),
        (Fault(error="msg_too_long"), "failed", 1, False, "Slack refused: msg_too_long"),
        (Fault(error="token_revoked"), "pending", 0, False, "held: token_revoked"),
        (Fault(error="missing_scope"), "pending", 0, False, "held: missing_scope"),
        (Fault(error="account_inactive"), "pending", 0, False, "held: account_inactive"),
        (Fault(error="channel_not_found"), "pending", 0, False, "held: channel_not_found"),
        (Fault(error="is_archived"), "pending", 0, False, "held: is_archived"),
        (Fault(error="fatal_error"), "pending", 1, False, "Slack answered fatal_error"),
    ],
    ids=[
        "429",
        "503",
        "500-after-posting",
        "permanent",
        "too-long",
        "token-revoked",
        "scope-missing",
        "bot-deactivated",
        "channel-gone",
        "channel-archived",
        "other-error",
    ],
)
def test_each_answer_of_slack_becomes_the_engines_outcome(
    app: App,
    fake: FakeSlackAPI,
    clock: ManualClock,
    say: Say,
    fault: Fault,
    state: str,
    attempts: int,
    in_doubt: bool,
    error: str,
) -> None:
    _sender(app, fake)
    fake.fail("chat.postMessage", fault)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Svarene")
    app.delivery.run_until_idle()
    row = _row(app)
    assert (row.state, row.attempts, row.in_doubt, row.last_error) == (state, attempts, in_doubt, error)
    if fault.status == 429:
        assert row.next_attempt_at == clock.now() + timedelta(seconds=30)  # Retry-After


def test_an_answer_that_never_comes_leaves_the_post_in_doubt(app: App, fake: FakeSlackAPI, say: Say) -> None:
    _sender(app, fake, timeout=0.3)
    fake.slow("chat.postMessage", 1.0)
    say(ORGANISER, "ny økt 2026-03-09 09:00 Treg")
    app.delivery.run_until_idle()
    row = _row(app)
    assert (row.state, row.in_doubt, row.last_error) == ("pending", True, "Slack unreachable: TimeoutError")


def test_no_connection_means_nothing_went_out(app: App, fake: FakeSlackAPI, say: Say) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _sender(app, fake, url=f"http://127.0.0.1:{port}/api/")
    say(ORGANISER, "ny økt 2026-03-09 09:00 Ingen linje")
    app.delivery.run_until_idle()
    row = _row(app)
    refused = "Slack unreachable: ConnectionRefusedError"
    assert (row.state, row.in_doubt, row.last_error) == ("pending", False, refused)


class Timed(SlackSender):
    """Notes the (simulated) moment of each post."""

    clock: ManualClock
    at: list[datetime]

    def send(self, message: OutgoingMessage) -> str | None:
        self.at.append(self.clock.now())
        return super().send(message)


@pytest.mark.parametrize(("per_minute", "gap"), [(60, timedelta(seconds=1)), (600, timedelta(seconds=0.1))])
def test_direct_messages_keep_the_workspace_wide_pace(
    app: App, fake: FakeSlackAPI, clock: ManualClock, say: Say, per_minute: int, gap: timedelta
) -> None:
    settings = SlackSettings(
        BOT_TOKEN, "signing-secret", None, CHANNEL, fake.url, workspace_rate_per_minute=per_minute
    )
    sender = Timed(sending_client(settings), settings, app.renderer)
    sender.clock, sender.at = clock, []
    app.delivery.add_sender(sender)
    for i in range(5):
        member = Actor("slack", f"U{i:04d}", email=f"m{i}@kommune.no")
        say(member, "meld på")
        say(member, "dm på")
    say(ORGANISER, "ny økt 2026-03-09 09:00 I takt")
    app.delivery.run_until_idle()
    assert len(sender.at) == 6  # the channel and five DMs: six channels, one post each
    # A short burst at once (WORKSPACE_BURST), then one post per interval of the workspace's pace.
    burst = WORKSPACE_BURST - 1
    assert [b - a for a, b in pairwise(sender.at)] == [timedelta(0)] * burst + [gap] * (5 - burst)
    assert len(fake.calls("chat.postMessage")) == 6


def test_organiser_text_is_sent_verbatim_so_slack_makes_no_links_of_it(
    app: App, fake: FakeSlackAPI, say: Say
) -> None:
    _sender(app, fake)
    say(ORGANISER, "ny økt 2026-03-09 09:00 *Gratis* _pizza_ #general https://evil.example & <!here>")
    app.delivery.run_until_idle()
    [post] = _posted(fake)
    texts = [t for t in _text_objects(post["blocks"]) if t["type"] == "mrkdwn"]  # type: ignore[arg-type]
    assert texts and all(t.get("verbatim") is True for t in texts)
    body = "\n".join(t["text"] for t in texts)
    assert "*Gratis* _pizza_ #general https://evil.example &amp; &lt;!here&gt;" in body
    assert "<https://evil.example" not in body  # a bare address in a title stays text


def _text_objects(node: object) -> list[dict[str, object]]:
    if isinstance(node, dict):
        own = [node] if node.get("type") in ("mrkdwn", "plain_text") else []
        return own + [t for value in node.values() for t in _text_objects(value)]
    if isinstance(node, list):
        return [t for value in node for t in _text_objects(value)]
    return []


def test_with_a_public_address_the_post_links_the_colleague_invitation(
    settings: BotSettings, clock: ManualClock, fake: FakeSlackAPI
) -> None:
    app = build(replace(settings, public_base_url="https://webinar.example.org"), clock=clock, migrate=False)
    try:
        _sender(app, fake)
        app.dispatcher.execute(ORGANISER, parse("ny økt 2026-03-09 09:00 Sirkulær økonomi"))
        app.delivery.run_until_idle()
        [post] = _posted(fake)
        assert "Inviter en kollega: <https://webinar.example.org/s/baerekraftsfredag/invite>" in str(
            post["blocks"]
        )
    finally:
        app.close()
