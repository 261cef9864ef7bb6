"""The bounce policy: every bounce kept, the third hard one in 30 days suspends mail (not the
subscription), organisers are told, `mine data` shows it, subscribing again lifts it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from bot.bounce_source import ReturnedMail
from bot.clock import ManualClock
from bot.delivery import kinds
from bot.delivery.recipients import subscribers
from bot.entry.composition import App
from bot.models import AuditEvent, Fanout, MailBounce, Person, Series
from bot.parser import parse
from jobs.bounces import record
from tests.conftest import ORGANISER, person
from tests.fakes.bounce_mail import relay_dsn

KARI = person("kari@kommune.no", name="Kari Nordmann")
ORIGINAL = (
    b"From: baerekraft@ks.example.org\r\nTo: kari@kommune.no\r\nSubject: Reminder\r\n"
    b"Message-ID: <abc@baerekraft.example.org>\r\n\r\nbody\r\n"
)


def bounce(
    app: App, clock: ManualClock, ref: str, *, status: str = "5.1.1", to: str = "kari@kommune.no"
) -> int:
    mime = relay_dsn(
        ORIGINAL, to, status=status, sender="bounces@ks.example.org", when=clock.now(), relay="relay.example"
    )
    return record(app, "test", ReturnedMail(ref, mime))


def suspended(app: App) -> bool:
    with app.db.read() as s:
        kari = s.scalar(select(Person).where(Person.email == "kari@kommune.no"))
        assert kari is not None
        return kari.mail_suspended_at is not None


def mailed(app: App) -> list[str | None]:
    with app.db.read() as s:
        series = s.scalar(select(Series).order_by(Series.id))
        assert series is not None
        return [r.email for r in subscribers(s, series)]


def test_three_hard_bounces_in_30_days_suspend_mail_but_not_the_subscription(
    app: App, clock: ManualClock, say: Callable[..., str]
) -> None:
    say(ORGANISER, "meld på")
    assert "påmeldt" in say(KARI, "meld på")
    for day in range(3):
        assert not suspended(app)
        assert bounce(app, clock, f"r{day}") == 1
        clock.advance(timedelta(days=10))
    assert suspended(app)
    assert mailed(app) == ["org@kommune.no", None]  # still a subscriber, reached by no mail
    assert "Her når jeg deg: (ingen steder)" in say(KARI, "mine data")
    assert "E-post: stanset" in say(KARI, "mine data")
    with app.db.read() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("mail.%"))))
        notices = list(s.scalars(select(Fanout).where(Fanout.kind == kinds.MAIL_SUSPENDED)))
    assert actions == ["mail.bounced"] * 3 + ["mail.suspended"]
    assert [(n.payload["who"], n.payload["status"]) for n in notices] == [("Kari Nordmann", "5.1.1")]
    assert "påmeldt" in say(KARI, "status")
    assert "1 av dem får ikke lenger e-post" in say(ORGANISER, "antall")


def test_hard_bounces_further_apart_and_soft_ones_only_count(
    app: App, clock: ManualClock, say: Callable[..., str]
) -> None:
    say(KARI, "meld på")
    bounce(app, clock, "a")
    clock.advance(timedelta(days=31))
    bounce(app, clock, "b")
    for n in range(5):
        bounce(app, clock, f"soft{n}", status="4.2.2")
    bounce(app, clock, "c")
    assert not suspended(app)
    assert "E-post i retur: 3 avvist, 5 midlertidig ikke levert" in say(KARI, "mine data")


def test_a_report_read_twice_counts_once_and_strangers_are_not_kept(app: App, clock: ManualClock) -> None:
    app.dispatcher.execute(KARI, parse("meld på"))
    assert bounce(app, clock, "same") == 1
    assert bounce(app, clock, "same") == 0
    assert bounce(app, clock, "other", to="nobody@elsewhere.example") == 0
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(MailBounce)) == 1


def test_subscribing_again_lifts_the_suspension(
    app: App, clock: ManualClock, say: Callable[..., str]
) -> None:
    say(KARI, "meld på")
    for n in range(3):
        bounce(app, clock, f"r{n}")
    assert suspended(app)
    say(KARI, "meld på")
    assert not suspended(app)
    assert mailed(app) == ["kari@kommune.no"]
    # The old bounces no longer count: it takes three new ones to suspend again.
    for n in range(3, 6):
        assert not suspended(app)
        clock.advance(timedelta(hours=1))
        bounce(app, clock, f"r{n}")
    assert suspended(app)


def test_erasure_takes_the_bounces_and_the_notices_naming_the_person(
    app: App, clock: ManualClock, say: Callable[..., str]
) -> None:
    say(ORGANISER, "meld på")
    say(KARI, "meld på")
    for n in range(3):
        bounce(app, clock, f"r{n}")
    say(KARI, "slett meg")
    say(KARI, "slett meg bekreft")
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(MailBounce)) == 0
        assert (
            s.scalar(select(func.count()).select_from(Fanout).where(Fanout.kind == kinds.MAIL_SUSPENDED)) == 0
        )
