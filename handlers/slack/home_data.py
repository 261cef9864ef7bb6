"""What the App Home shows a reader, read in one go: per series, their subscription (and whether
reminders come as direct messages) and role, the sessions ahead and the past ones with their slides.
Read-only: nothing here changes state."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.commands import Actor
from bot.db import Database
from bot.models import SessionStatus
from bot.services import organisers, sessions, subscriptions
from bot.services.context import CoreConfig, Ctx
from bot.services.people import find_person
from bot.services.series import all_series
from bot.views import SeriesView, SessionView

PAST_SHOWN = 5
UPCOMING = 3
UPCOMING_FOR_ORGANISERS = 5


@dataclass(frozen=True)
class SeriesHome:
    series: SeriesView
    subscribed: bool
    organiser: bool
    upcoming: tuple[SessionView, ...]  # the next few; organisers see a few more, to edit them
    past: tuple[SessionView, ...]  # newest first
    direct: bool = False  # reminders as direct messages (of an active subscription)
    more_past: bool = False  # there are older past sessions than `past`


@dataclass(frozen=True)
class HomeData:
    language: str
    series: tuple[SeriesHome, ...]


def load_home(db: Database, clock: Clock, config: CoreConfig, actor: Actor) -> HomeData:
    with db.read() as s:
        ctx = Ctx(s, actor, clock.now(), config)
        person = find_person(s, actor)
        found: list[SeriesHome] = []
        every = all_series(ctx)
        for series in every:
            sub = subscriptions.subscription_of(ctx, person, series) if person else None
            organiser = organisers.is_organiser(ctx, series)
            limit = UPCOMING_FOR_ORGANISERS if organiser else UPCOMING
            ahead = sessions.upcoming_sessions(ctx, series, limit=limit + UPCOMING_FOR_ORGANISERS)
            hidden = {SessionStatus.CANCELLED.value} | (
                {SessionStatus.DRAFT.value} if not organiser else set()
            )
            ahead = [x for x in ahead if x.status not in hidden][:limit]
            past = sessions.past_sessions(ctx, series, PAST_SHOWN + 1)
            active = bool(sub and sub.active)
            found.append(
                SeriesHome(
                    series=SeriesView.of(series),
                    subscribed=active,
                    organiser=organiser,
                    upcoming=tuple(SessionView.of(x) for x in ahead),
                    past=tuple(SessionView.of(x) for x in past[:PAST_SHOWN]),
                    direct=bool(active and sub and sub.direct_messages),
                    more_past=len(past) > PAST_SHOWN,
                )
            )
        language = (
            (person.language if person else None)
            or actor.language
            or (every[0].language if len(every) == 1 else None)
            or config.language
        )
        return HomeData(language, tuple(found))


def organised_series(db: Database, clock: Clock, config: CoreConfig, actor: Actor) -> list[SeriesView]:
    """The series `actor` may plan sessions for."""
    with db.read() as s:
        ctx = Ctx(s, actor, clock.now(), config)
        return [SeriesView.of(x) for x in all_series(ctx) if organisers.is_organiser(ctx, x)]
