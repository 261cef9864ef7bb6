"""Subscribing and unsubscribing through the whole core path (parse → dispatch → render)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event, func, select

from bot.entry.composition import App
from bot.models import AuditEvent, Person, Subscription
from bot.services.context import Ctx
from bot.services.people import find_person
from bot.services.series import resolve_series
from bot.services.subscriptions import Outcome, subscribe_person, subscription_of, unsubscribe_person
from tests.conftest import person

KARI = person("kari@kommune.no", name="Kari")


def _subs(app: App) -> list[Subscription]:
    with app.db.read() as s:
        return list(s.scalars(select(Subscription)))


def test_subscribe_creates_one_active_subscription_with_audit(app: App, say: Callable[..., str]) -> None:
    reply = say(KARI, "meld på")
    assert "Du er nå påmeldt Bærekraftsfredag" in reply
    subs = _subs(app)
    assert len(subs) == 1 and subs[0].active and subs[0].source_channel == "console"
    with app.db.read() as s:
        actions = list(s.scalars(select(AuditEvent.action)))
    # Kari set no language: the Norwegian words she wrote are hers from now on.
    assert actions == ["subscription.created", "person.language_learned"]


def test_subscribing_twice_keeps_one_subscription_and_says_so(app: App, say: Callable[..., str]) -> None:
    say(KARI, "meld på")
    reply = say(KARI, "MELD  PA")
    assert "allerede påmeldt" in reply
    assert len(_subs(app)) == 1
    with app.db.read() as s:
        actions = list(s.scalars(select(AuditEvent.action)))
    assert actions == ["subscription.created", "person.language_learned"]


def test_unsubscribe_keeps_the_record(app: App, say: Callable[..., str], clock) -> None:  # type: ignore[no-untyped-def]
    say(KARI, "meld på")
    reply = say(KARI, "meld av")
    assert "Du er meldt av Bærekraftsfredag" in reply
    (sub,) = _subs(app)
    assert not sub.active
    assert sub.unsubscribed_at == clock.now()
    assert sub.unsubscribe_channel == "console"


def test_unsubscribe_when_not_subscribed_is_kind(app: App, say: Callable[..., str]) -> None:
    assert "ikke påmeldt" in say(KARI, "meld av")
    say(KARI, "meld på")
    say(KARI, "meld av")
    assert "ikke påmeldt" in say(KARI, "unsubscribe")
    with app.db.read() as s:
        # Asking to leave a list one is not on changes nothing and creates nobody.
        assert (
            s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("subscription.%"))
            )
            == 2
        )


def test_resubscribe_reactivates_the_same_record(app: App, say: Callable[..., str]) -> None:
    say(KARI, "meld på")
    say(KARI, "meld av")
    assert "Du er nå påmeldt" in say(KARI, "abonner")
    (sub,) = _subs(app)
    assert sub.active and sub.unsubscribed_at is None


def test_same_email_from_two_channels_is_one_person(app: App, say: Callable[..., str]) -> None:
    from bot.commands import Actor

    slack_kari = Actor("slack", "U123KARI", email="KARI@kommune.no", name="Kari N.")
    say(KARI, "meld på")
    assert "allerede påmeldt" in say(slack_kari, "subscribe")
    with app.db.read() as s:
        people = list(s.scalars(select(Person)))
        assert len(people) == 1
        assert sorted(i.platform for i in people[0].identities) == ["console", "slack"]


def test_language_of_the_person_wins(app: App, say: Callable[..., str]) -> None:
    english = person("john@example.org", language="en")
    assert "You are now subscribed to Bærekraftsfredag" in say(english, "meld på")
    # Later commands from a channel that does not know the language still answer in English.
    assert "already subscribed" in say(person("john@example.org"), "subscribe")


def test_status_reports_subscription_and_role(say: Callable[..., str]) -> None:
    assert "Du er ikke påmeldt" in say(KARI, "status")
    say(KARI, "meld på")
    reply = say(KARI, "status")
    assert "Du er påmeldt Bærekraftsfredag (siden onsdag 4. mars 2026)" in reply
    assert "arrangør" not in reply


def test_direct_messages_need_a_subscription_and_are_audited(app: App, say: Callable[..., str]) -> None:
    assert "Du må være påmeldt Bærekraftsfredag" in say(KARI, "dm på")
    say(KARI, "meld på")
    assert "Nå får du også påminnelser" in say(KARI, "dm pa")
    assert "allerede påminnelser" in say(KARI, "dm på")
    (sub,) = _subs(app)
    assert sub.direct_messages
    assert "ikke lenger påminnelser" in say(KARI, "DM AV")
    with app.db.read() as s:
        actions = list(s.scalars(select(AuditEvent.action)))
    assert actions.count("subscription.direct_messages") == 2


def test_a_subscription_held_in_the_transaction_shows_each_change(app: App, say: Callable[..., str]) -> None:
    """Subscribing and leaving change the row with one statement each; a subscription the same
    transaction holds is read again, and leaving twice ends it (and audits it) once."""
    say(KARI, "meld på")
    with app.db.transaction() as s:
        ctx = Ctx(s, KARI, app.dispatcher.clock.now(), app.dispatcher.config)
        series = resolve_series(ctx, None)
        kari = find_person(s, KARI)
        assert kari is not None
        held = subscription_of(ctx, kari, series)
        assert held is not None and held.active
        assert unsubscribe_person(ctx, kari, series).changed
        assert not held.active and held.unsubscribe_channel == "console"
        assert not unsubscribe_person(ctx, kari, series).changed
        assert subscribe_person(ctx, kari, series) == Outcome(True, held.id)
        assert held.active and held.unsubscribed_at is None and held.unsubscribe_channel is None
    with app.db.read() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["subscription.ended", "subscription.reactivated"]
    assert actions.count("subscription.ended") == 1


def test_leaving_is_audited_alike_on_every_backend(app: App, say: Callable[..., str], clock) -> None:  # type: ignore[no-untyped-def]
    """The audit row of an unsubscribe, whichever statements write it (PostgreSQL: the same one as
    the change), and nothing written when there was nothing to end."""
    say(KARI, "meld på")
    queries: list[str] = []
    event.listen(app.db.engine, "before_cursor_execute", lambda *a: queries.append(" ".join(a[2].split())))
    assert "Du er meldt av" in say(KARI, "meld av")
    writes = [q.split()[0] for q in queries if q.startswith(("INSERT", "UPDATE", "WITH"))]
    assert writes == (["WITH"] if app.db.engine.dialect.name == "postgresql" else ["UPDATE", "INSERT"])
    assert "ikke påmeldt" in say(KARI, "meld av")
    with app.db.read() as s:
        kari = find_person(s, KARI)
        (sub,) = s.scalars(select(Subscription))
        (ended,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "subscription.ended"))
    assert kari is not None
    assert (ended.at, ended.channel, ended.actor_person_id, ended.actor_label) == (
        clock.now(),
        "console",
        kari.id,
        None,
    )
    assert (ended.series_id, ended.subject_type, ended.subject_id) == (sub.series_id, "subscription", sub.id)
    assert ended.details == {"person_id": kari.id}
