"""People deactivated in the Slack workspace get no more direct messages: Slack may still accept a
post to them, so the bot keeps its own record, from the `user_change` event (or a users.info that
shows `deleted`), and gives it back when they are reactivated. They keep their other channels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.entry.runtime import attach_senders
from bot.entry.settings import BotSettings
from bot.models import AuditEvent, Delivery, Identity, Subscription
from tests.delivery.helpers import simulate
from tests.slack.fakes.slack_bot import JOHN, KARI, SlackBot, eventually, plan, slack_bot


@pytest.fixture
def bot(settings: BotSettings, clock: ManualClock) -> Iterator[SlackBot]:
    with slack_bot(settings, clock) as running:
        attach_senders(running.app)
        for user in (KARI, JOHN):
            for command in ("meld på", "dm på"):
                _, key = running.slack.command(command, user)
                running.response(key)
        yield running


def slack_identity(bot: SlackBot, user: str) -> Identity:
    with bot.app.db.read() as s:
        return s.scalars(
            select(Identity).where(Identity.platform == "slack", Identity.external_id == user)
        ).one()


def active(bot: SlackBot, user: str) -> bool:
    return slack_identity(bot, user).active


def audit_actions(bot: SlackBot) -> list[tuple[str, int | None]]:
    with bot.app.db.read() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.action.like("identity.%")).order_by(AuditEvent.id)
        )
        return [(e.action, e.subject_id) for e in events]


def run_a_session(bot: SlackBot, clock: ManualClock, title: str, day: int) -> None:
    """A session on 2026-03-<day> 09:00 in Oslo: its invitation and both reminders go out."""
    plan(bot.app, title, f"2026-03-{day:02d} 09:00")
    simulate(bot.app, clock, datetime(2026, 3, day, 7, 30, tzinfo=UTC))


def test_a_user_deactivated_in_slack_gets_no_more_dms(bot: SlackBot, clock: ManualClock) -> None:
    answer = bot.slack.user_change(bot.fake.deactivate(KARI))
    assert (answer.status_code, answer.text) == (200, "")
    eventually(lambda: not active(bot, KARI))
    run_a_session(bot, clock, "Sirkulær økonomi", 9)
    assert len(bot.fake.messages(JOHN)) == 3  # the invitation and both reminders
    assert bot.fake.messages(KARI) == []
    with bot.app.db.read() as s:
        assert not s.scalars(select(Delivery).where(Delivery.target == KARI)).all()
        subscribed = s.scalars(select(Subscription).where(Subscription.active.is_(True))).all()
        assert len(subscribed) == 2  # still subscribed: mail or another channel still reaches her
    assert audit_actions(bot) == [("identity.deactivated", slack_identity(bot, KARI).id)]


def test_reactivated_they_get_dms_again(bot: SlackBot, clock: ManualClock) -> None:
    bot.slack.user_change(bot.fake.deactivate(KARI))
    eventually(lambda: not active(bot, KARI))
    bot.slack.user_change(bot.fake.deactivate(KARI, deleted=False))
    eventually(lambda: active(bot, KARI))
    run_a_session(bot, clock, "Klimatilpasning", 9)
    assert len(bot.fake.messages(KARI)) == 3
    identity = slack_identity(bot, KARI).id
    assert audit_actions(bot) == [("identity.deactivated", identity), ("identity.reactivated", identity)]


def test_other_changes_of_a_profile_change_nothing(bot: SlackBot) -> None:
    user = dict(bot.fake.workspace.users[JOHN], real_name="John Q. Smith")
    bot.slack.user_change(user)
    bot.slack.user_change(bot.fake.deactivate(KARI))  # handled after John's, by the one inbox worker
    eventually(lambda: not active(bot, KARI))
    assert active(bot, JOHN) and [action for action, _ in audit_actions(bot)] == ["identity.deactivated"]


def test_a_users_info_that_shows_deleted_marks_them_too(bot: SlackBot, clock: ManualClock) -> None:
    bot.fake.deactivate(KARI)  # the event never came
    clock.advance(timedelta(minutes=11))  # past the directory's cache of her users.info
    _, key = bot.slack.command("status", KARI)
    bot.response(key)
    assert not active(bot, KARI)
    run_a_session(bot, clock, "Sirkulær økonomi", 9)
    assert bot.fake.messages(KARI) == [] and len(bot.fake.messages(JOHN)) == 3


def test_messages_planned_before_the_deactivation_are_skipped_not_sent(
    bot: SlackBot, clock: ManualClock
) -> None:
    """The day-before reminder's rows are made while Kari is active; she is deactivated before they go
    out (a fan-out under way): hers is skipped at sending, John's goes."""
    plan(bot.app, "Planlagt før", "2026-03-09 09:00")
    simulate(bot.app, clock, datetime(2026, 3, 8, 7, 59, tzinfo=UTC))  # the invitation went out
    clock.set(datetime(2026, 3, 8, 8, 0, 1, tzinfo=UTC))
    bot.app.delivery.plan()  # the reminder's rows, Kari's among them
    with bot.app.db.read() as s:
        [kari] = s.scalars(select(Delivery).where(Delivery.target == KARI, Delivery.state == "pending")).all()
    bot.slack.user_change(bot.fake.deactivate(KARI))
    eventually(lambda: not active(bot, KARI))
    bot.app.delivery.run_until_idle()
    assert len(bot.fake.messages(KARI)) == 1 and len(bot.fake.messages(JOHN)) == 2
    with bot.app.db.read() as s:
        row = s.get(Delivery, kari.id)
    assert row is not None and row.state == "skipped"
