"""When things are sent: a month of a series in simulated time, DST, late joiners, leavers, moves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import ManualClock
from bot.entry.composition import App
from bot.models import AuditEvent, Delivery, Session
from tests.conftest import ORGANISER, person
from tests.delivery.helpers import delivery_states, fanout_notes, simulate
from tests.fakes.recording_sender import RecordingSender

Say = Callable[..., str]


def _sender(app: App, clock: ManualClock, **kwargs: object) -> RecordingSender:
    sender = RecordingSender(clock, **kwargs)  # type: ignore[arg-type]
    app.delivery.add_sender(sender)
    return sender


def _posts(sender: RecordingSender, title: str) -> list[tuple[str, datetime]]:
    return [(x.key.split("|")[0].split(":")[1], x.at) for x in sender.to("post") if x.title == title]


def test_a_month_of_a_recurring_series_across_dst(app: App, clock: ManualClock, say: Say) -> None:
    sender = _sender(app, clock)
    for name in ("a", "b", "c"):
        say(person(f"{name}@kommune.no"), "meld på")
    # The first Wednesday: today's (4 March) has begun, so the first is 1 April, three days after
    # summer time begins (and not Maundy Thursday or Good Friday, 2 and 3 April, public holidays).
    say(ORGANISER, "gjentakelse første onsdag i måneden 09:00-10:00 ikke juli")
    say(ORGANISER, "gi arrangør org@kommune.no")

    def title_drafts() -> None:  # an organiser gives each draft its title as soon as asked
        with app.db.read() as s:
            drafts = list(s.scalars(select(Session.id).where(Session.status == "draft")))
        for draft in drafts:
            assert "er endret (tittel)" in say(ORGANISER, f"endre økt {draft} tittel=Økt {draft}")

    simulate(app, clock, datetime(2026, 4, 1, 12, 0, tzinfo=UTC), on_step=title_drafts)
    with app.db.read() as s:
        april = s.scalars(
            select(Session).where(Session.start_at == datetime(2026, 4, 1, 7, 0, tzinfo=UTC))
        ).one()
    say(ORGANISER, f"ny lenke {april.id} https://ks.no/lysark/april.pdf Lysark april; foredragsholder=Kari")
    simulate(app, clock, datetime(2026, 4, 30, tzinfo=UTC), on_step=title_drafts)

    april_posts = [(x.kind, x.at) for x in sender.to("post") if x.key.startswith(f"s{april.id}:")]
    assert april_posts == [
        ("topic_needed", datetime(2026, 3, 4, 10, 0, tzinfo=UTC)),  # a draft until titled
        ("invitation", datetime(2026, 3, 25, 8, 0, tzinfo=UTC)),  # 09:00 Oslo, still winter time
        ("reminder", datetime(2026, 3, 31, 7, 0, tzinfo=UTC)),  # 09:00 Oslo, summer time
        ("reminder", datetime(2026, 4, 1, 6, 0, tzinfo=UTC)),  # 08:00 Oslo
        ("followup", datetime(2026, 4, 1, 12, 15, tzinfo=UTC)),  # 15 minutes after the last slide
    ]
    # Every subscriber got each of April's four messages once.
    for target in ("person:1", "person:2", "person:3"):
        got = [x.kind for x in sender.to(target) if x.key.startswith(f"s{april.id}:")]
        assert got == ["invitation", "reminder", "reminder", "followup"]
    assert sender.duplicates() == []
    assert delivery_states(app).get("failed", 0) == 0
    with app.db.read() as s:
        starts = list(s.scalars(select(Session.start_at).order_by(Session.start_at)))
    assert starts == [
        datetime(2026, 4, 1, 7, 0, tzinfo=UTC),
        datetime(2026, 5, 6, 7, 0, tzinfo=UTC),
        datetime(2026, 6, 3, 7, 0, tzinfo=UTC),
    ]


def _plan_session(say: Say, start: str = "2026-03-07 09:00") -> None:
    assert "Økten er lagt inn" in say(ORGANISER, f"ny økt {start} Sirkulær økonomi")


def test_late_joiner_gets_the_invitation_and_the_post_is_not_repeated(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = _sender(app, clock)
    say(person("a@x.no"), "meld på")
    _plan_session(say)
    app.delivery.run_until_idle()
    assert [x.target for x in sender.sent if x.kind == "invitation"] == ["post", "person:1"]

    clock.advance(timedelta(hours=2))
    say(person("late@x.no"), "meld på")
    app.delivery.run_until_idle()
    invitations = [x.target for x in sender.sent if x.kind == "invitation"]
    assert invitations == ["post", "person:1", "person:2"]


def test_no_one_day_reminder_to_someone_who_joined_an_hour_before_it(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = _sender(app, clock)
    say(person("early@x.no"), "meld på")
    _plan_session(say, "2026-03-10 09:00")  # Tuesday; 1-day reminder Monday 9 March 08:00 UTC
    simulate(app, clock, datetime(2026, 3, 9, 7, 0, tzinfo=UTC))
    say(person("late@x.no"), "meld på")  # an hour before the 1-day reminder
    simulate(app, clock, datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    late = sender.to("person:2")
    assert [x.kind for x in late] == ["invitation", "reminder"]
    assert late[1].at == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)  # only the 1-hour reminder
    assert [x.kind for x in sender.to("person:1")] == ["invitation", "reminder", "reminder"]
    with app.db.read() as s:
        skipped = s.scalars(select(Delivery).where(Delivery.state == "skipped")).one()
    assert skipped.target == "person:2"
    assert skipped.last_error == "subscribed too recently for this reminder"


def test_someone_leaving_mid_fanout_gets_nothing_more(app: App, clock: ManualClock, say: Say) -> None:
    sender = _sender(app, clock)
    for i in range(30):
        say(person(f"p{i}@x.no"), "meld på")
    _plan_session(say)
    app.delivery.plan()
    worker = app.delivery.workers["fake"]
    worker.run_once()  # the post and the first nine people
    say(person("p20@x.no"), "meld av")
    worker.drain()
    assert len(sender.sent) == 30  # post + 29 people
    assert sender.to("person:21") == []
    with app.db.read() as s:
        row = s.scalars(select(Delivery).where(Delivery.target == "person:21")).one()
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "delivery.skipped")).one()
    assert (row.state, row.last_error) == ("skipped", "no longer subscribed")
    assert audit.details["reason"] == "no longer subscribed"


def test_sends_missed_while_down_are_skipped_with_a_note_when_useless(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = _sender(app, clock)
    say(person("a@x.no"), "meld på")
    _plan_session(say, "2026-03-20 09:00")
    clock.set(datetime(2026, 3, 20, 7, 30, tzinfo=UTC))  # down for two weeks; 30 minutes to go
    app.delivery.run_until_idle()
    assert [(x.kind, x.target) for x in sender.sent] == [("invitation", "post"), ("invitation", "person:1")]
    notes = fanout_notes(app)
    assert notes["s1:reminder:1d:2026-03-20T08:00:00+00:00"] == "missed: a later reminder is due as well"
    assert notes["s1:reminder:1h:2026-03-20T08:00:00+00:00"] == (
        "missed: the invitation went out after this reminder's time"
    )
    with app.db.read() as s:
        assert len(s.scalars(select(AuditEvent).where(AuditEvent.action == "fanout.skipped")).all()) == 2


def test_nothing_before_start_once_the_session_has_started(app: App, clock: ManualClock, say: Say) -> None:
    sender = _sender(app, clock)
    say(person("a@x.no"), "meld på")
    _plan_session(say, "2026-03-20 09:00")
    clock.set(datetime(2026, 3, 20, 8, 30, tzinfo=UTC))
    app.delivery.run_until_idle()
    assert sender.sent == []
    assert set(fanout_notes(app).values()) == {"missed: the session has started"}


def test_a_moved_session_announces_the_change_and_reschedules_reminders(
    app: App, clock: ManualClock, say: Say
) -> None:
    sender = _sender(app, clock)
    say(person("a@x.no"), "meld på")
    _plan_session(say, "2026-03-07 09:00")
    app.delivery.run_until_idle()
    clock.advance(timedelta(hours=1))
    assert "er endret (tidspunkt)" in say(ORGANISER, "endre økt 1 start=2026-03-14 09:00")
    simulate(app, clock, datetime(2026, 3, 14, 12, 0, tzinfo=UTC))
    kinds = [(x.kind, x.at) for x in sender.to("post")]
    assert kinds == [
        ("invitation", datetime(2026, 3, 4, 10, 0, tzinfo=UTC)),
        ("change", datetime(2026, 3, 4, 11, 0, tzinfo=UTC)),
        ("reminder", datetime(2026, 3, 13, 8, 0, tzinfo=UTC)),
        ("reminder", datetime(2026, 3, 14, 7, 0, tzinfo=UTC)),
    ]


def test_a_new_join_link_is_announced_once_as_a_change(app: App, clock: ManualClock, say: Say) -> None:
    """A link set after the invitation went out is no change (it had none); one replaced is, once
    for each new link, and the reminders carry the new one."""
    sender = _sender(app, clock)
    say(person("a@x.no"), "meld på")
    _plan_session(say, "2026-03-07 09:00")
    say(ORGANISER, "endre økt 1 lenke=https://teams.example/m/1")
    app.delivery.run_until_idle()
    clock.advance(timedelta(hours=1))
    say(ORGANISER, "endre økt 1 lenke=https://teams.example/m/2")
    app.delivery.run_until_idle()
    app.delivery.run_until_idle()
    assert [x.kind for x in sender.to("post")] == ["invitation", "change"]
    clock.advance(timedelta(hours=1))
    say(ORGANISER, "endre økt 1 start=2026-03-07 10:00")
    simulate(app, clock, datetime(2026, 3, 7, 9, 0, tzinfo=UTC))
    assert [x.kind for x in sender.to("post")] == ["invitation", "change", "change", "reminder", "reminder"]


def test_a_cancelled_session_is_announced_and_not_reminded(app: App, clock: ManualClock, say: Say) -> None:
    sender = _sender(app, clock)
    say(person("a@x.no"), "meld på")
    _plan_session(say, "2026-03-07 09:00")
    app.delivery.run_until_idle()
    say(ORGANISER, "avlys økt 1")
    simulate(app, clock, datetime(2026, 3, 8, tzinfo=UTC))
    assert [x.kind for x in sender.to("post")] == ["invitation", "cancellation"]
    assert [x.kind for x in sender.to("person:1")] == ["invitation", "cancellation"]
