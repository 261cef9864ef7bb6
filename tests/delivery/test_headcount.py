"""The lead estimate from counts: every sender tells from a series' headcount the same fan-out length
as the full expansion (a target for everyone) gives, for audiences that mix channels, languages,
direct messages, deactivated accounts, suspended mail and subscribers too recent for a reminder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.delivery import kinds
from bot.delivery.channels import CountingSender, Pace, Sender
from bot.delivery.durations import parse_offset
from bot.delivery.fanouts import paced_duration
from bot.delivery.headcount import headcount
from bot.delivery.planner import Planner
from bot.delivery.recipients import subscribers
from bot.delivery.schedule import Planned, recent_after
from bot.entry.composition import App
from bot.mail_delivery import MailDelivery
from bot.models import Identity, Person, Series, Subscription
from bot.views import SeriesView
from handlers.console.sender import ConsoleSender
from handlers.microsoft365.mail_sender import MailSender
from handlers.microsoft365.teams_sender import TeamsSender
from handlers.slack.sender import SlackSender
from handlers.slack.settings import SlackSettings
from handlers.web.mail_sender import ConfirmationMailSender
from tests.conftest import NOW
from tests.fakes.recording_sender import CountingRecordingSender

DUE = NOW + timedelta(days=2)
DAY_BEFORE = DUE - timedelta(days=1)  # a 1-day reminder's subscribers joined by then


def _people(app: App) -> None:
    """Who subscribes to the default series, in groups of a few of each kind (more than a burst)."""
    groups: list[tuple[int, dict[str, Any]]] = [
        (7, {"slack": True, "direct": True}),
        (3, {"slack": True}),  # no direct messages: the channel post reaches them
        (2, {"slack": True, "direct": True, "inactive": True}),  # deactivated in Slack
        (4, {"teams": True, "language": "en"}),
        (1, {"teams": True, "inactive": True}),
        (6, {"email": True}),
        (5, {"email": True, "language": "en"}),
        (4, {"email": True, "language": "da"}),
        (2, {"email": True, "suspended": True}),  # hard bounces: no mail
        (3, {"email": True, "slack": True, "direct": True, "teams": True, "language": None}),
        (2, {"email": True, "language": ""}),  # the series' language
        (4, {"email": True, "slack": True, "direct": True, "teams": True, "recent": True}),
        (3, {"email": True, "language": "en", "recent": True}),
        (2, {"email": True, "slack": True, "direct": True, "left": True}),  # unsubscribed
    ]
    with app.db.transaction() as s:
        series = s.scalars(select(Series).order_by(Series.id)).first()
        assert series is not None
        number = 0
        for count, traits in groups:
            for _ in range(count):
                number += 1
                _subscriber(s, series.id, number, **traits)


def _subscriber(
    s: Any,
    series_id: int,
    number: int,
    *,
    email: bool = False,
    suspended: bool = False,
    slack: bool = False,
    teams: bool = False,
    inactive: bool = False,
    direct: bool = False,
    recent: bool = False,
    left: bool = False,
    language: str | None = "nb",
) -> None:
    someone = Person(
        name=f"Person {number}",
        email=f"p{number}@kommune.no" if email else None,
        language=language,
        created_at=NOW,
        mail_suspended_at=NOW if suspended else None,
    )
    s.add(someone)
    s.flush()
    for platform, has in (("slack", slack), ("teams", teams)):
        if has:
            s.add(
                Identity(
                    person_id=someone.id,
                    platform=platform,
                    external_id=f"{platform}-{number}",
                    created_at=NOW,
                    active=not inactive,
                )
            )
    since = DAY_BEFORE + timedelta(minutes=5) if recent else NOW - timedelta(days=30)
    s.add(
        Subscription(
            person_id=someone.id,
            series_id=series_id,
            active=not left,
            source_channel="console",
            consented_at=since,
            direct_messages=direct,
        )
    )


def _senders(app: App, clock: ManualClock) -> dict[str, Callable[[], Sender]]:
    """Each channel's sender as configured in its ways (with and without an announcement channel,
    mail one by one or in Bcc batches), with paces tight enough for the groups above."""
    slack = SlackSettings("xoxb-test", "secret", None, "C0ANNOUNCE", workspace_rate_per_minute=60)
    graph = SimpleNamespace(
        has_channel=True, settings=SimpleNamespace(channel_id="19:x", command_prefix="bot")
    )
    mailbox = SimpleNamespace(pace=Pace("graph:mailbox", timedelta(seconds=2), burst=3))
    bcc = replace(app.settings, limits=replace(app.settings.limits, mail_batch="bcc", mail_max_recipients=3))
    relay = SimpleNamespace(
        paces=lambda: [Pace("smtp:a", timedelta(seconds=1)), Pace("smtp:b", timedelta(seconds=3), 4)]
    )

    def mail(settings: Any) -> MailSender:
        return MailSender(app.renderer, settings, "org@x.no", None, mailbox, clock, None, "x.no")  # type: ignore[arg-type]

    return {
        "slack": lambda: SlackSender(None, slack, app.renderer),  # type: ignore[arg-type]
        "slack without a channel": lambda: SlackSender(None, replace(slack, channel_id=None), app.renderer),  # type: ignore[arg-type]
        "teams": lambda: TeamsSender(app.renderer, graph, None, lambda: None),  # type: ignore[arg-type]
        "teams without a channel": lambda: TeamsSender(
            app.renderer,
            SimpleNamespace(has_channel=False, settings=graph.settings),
            None,
            lambda: None,  # type: ignore[arg-type]
        ),
        "exchange mail": lambda: mail(app.settings),
        "exchange mail in bcc": lambda: mail(bcc),
        "smtp relay": lambda: MailDelivery(app.renderer, app.settings, relay, clock),  # type: ignore[arg-type]
        "console": lambda: ConsoleSender(app.renderer),
        "web confirmations": lambda: ConfirmationMailSender(None, None),  # type: ignore[arg-type]
        "fake with a post": lambda: CountingRecordingSender(clock, interval=timedelta(seconds=1)),
    }


PLANS = [
    Planned("invitation", kinds.INVITATION, DUE, offset=parse_offset("7d")),
    Planned("reminder", kinds.REMINDER, DUE, {"offset": "1d"}, parse_offset("1d")),
    Planned("manual reminder", kinds.REMINDER, DUE, {"offset": "manual"}),
    Planned("change", kinds.CHANGE, DUE),
    Planned("cancellation", kinds.CANCELLATION, DUE),
    Planned("followup", kinds.FOLLOWUP, DUE, offset=parse_offset("1d")),
    Planned("notice", kinds.LEAD_TIME_WARNING, DUE),
]


@pytest.mark.parametrize("plan", PLANS, ids=[p.key for p in PLANS])
def test_each_sender_counts_the_lead_its_expansion_gives(app: App, clock: ManualClock, plan: Planned) -> None:
    _people(app)
    counted: dict[str, timedelta] = {}
    expanded: dict[str, timedelta] = {}
    with app.db.read() as s:
        series = s.scalars(select(Series).order_by(Series.id)).one()
        people = subscribers(s, series)
        counts = headcount(s, series, recent_after(plan))
        for name, make in _senders(app, clock).items():
            sender = make()
            assert isinstance(sender, CountingSender)
            planner = Planner(app.db, app.delivery.planner.config, lambda sender=sender: [sender])
            expanded[name] = planner.expand_targets(plan, series, people).lead[sender.channel]
            counted[name] = paced_duration(sender.paced_sends(plan.kind, SeriesView.of(series), counts))
    assert counted == expanded
    assert len(set(expanded.values())) >= 4  # the paces bind: the figures tell the audiences apart


def test_a_reminder_leaves_out_the_recent_ones_and_only_them(app: App) -> None:
    _people(app)
    reminder = PLANS[1]
    with app.db.read() as s:
        series = s.scalars(select(Series).order_by(Series.id)).one()
        everyone = headcount(s, series)
        counts = headcount(s, series, recent_after(reminder))
    assert recent_after(reminder) == DAY_BEFORE
    assert everyone.people(lambda p: True) == 48 - 2  # the two who left are not counted
    assert counts.people(lambda p: True) == 48 - 2 - 7
    # Shared targets (a batch) are made from everyone, the recent ones too: they are left out later.
    assert counts.by_language(lambda p: p.mailable) == {"nb": 6 + 3 + 2 + 4, "en": 5 + 3, "da": 4}


def test_the_mail_cap_counts_everyone_with_an_address_from_the_headcount(
    app: App, clock: ManualClock
) -> None:
    _people(app)
    sender = _senders(app, clock)["exchange mail"]()
    assert isinstance(sender, MailSender)
    with app.db.read() as s:
        series = s.scalars(select(Series).order_by(Series.id)).one()
        with_address = sum(1 for p in subscribers(s, series) if p.email)
        view, counts = SeriesView.of(series), headcount(s, series)
    loads = {plan.kind: sender.daily_load(plan.kind, view, counts) for plan in PLANS}
    # The recent ones count too: the cap is weighed before anyone is left out of a reminder.
    assert with_address == 6 + 5 + 4 + 3 + 2 + 4 + 3
    assert loads == {
        kinds.INVITATION: with_address,  # the Exchange meeting's invitation, mailed by Exchange
        kinds.REMINDER: with_address,
        kinds.FOLLOWUP: with_address,
        kinds.CHANGE: 0,
        kinds.CANCELLATION: 0,
        kinds.LEAD_TIME_WARNING: 0,
    }
