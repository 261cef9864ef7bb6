"""May this Slack user open an organiser modal? The series or session it is for, in the reader's
language, or the core's refusal to show them. Read-only: the dispatcher checks again on submission."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.commands import Actor
from bot.db import Database
from bot.dispatch import Reply
from bot.models import Series
from bot.services import organisers
from bot.services.context import CoreConfig, Ctx
from bot.services.errors import UserError
from bot.services.people import find_person
from bot.services.series import all_series, resolve_series
from bot.services.sessions import get_session
from bot.views import SeriesView, SessionView


@dataclass(frozen=True)
class Access:
    language: str
    series: SeriesView | None = None
    session: SessionView | None = None
    choices: list[SeriesView] = field(default_factory=list)  # series the reader may plan for
    refusal: Reply | None = None


def organiser_access(
    db: Database,
    clock: Clock,
    config: CoreConfig,
    actor: Actor,
    *,
    series_slug: str | None = None,
    session_id: int | None = None,
) -> Access:
    """Access to plan in `series_slug` (or the reader's own series), or to edit `session_id`."""
    with db.read() as s:
        ctx = Ctx(s, actor, clock.now(), config)
        person = find_person(s, actor)
        own = (person.language if person else None) or actor.language

        def refuse(key: str, about: Series | None, data: dict[str, object]) -> Access:
            language = own or (about.language if about else None) or config.language
            timezone = about.timezone if about else config.timezone
            return Access(language, refusal=Reply(key, data, language, timezone))

        try:
            session = get_session(ctx, session_id) if session_id is not None else None
            series = session.series if session is not None else None
            choices = [x for x in all_series(ctx) if organisers.is_organiser(ctx, x)]
            if series is None and (series_slug is not None or not choices):
                series = resolve_series(ctx, series_slug)
        except UserError as refusal:
            return refuse(refusal.key, None, refusal.data)
        target = series or choices[0]
        if not organisers.is_organiser(ctx, target):
            return refuse("not_organiser", target, {"series": target.name})
        return Access(
            own or target.language or config.language,
            series=SeriesView.of(target),
            session=SessionView.of(session) if session is not None else None,
            choices=[SeriesView.of(x) for x in choices] if series is None else [],
        )
