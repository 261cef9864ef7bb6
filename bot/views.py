"""Plain, detached views of stored rows for templates: templates never touch the ORM."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from bot.models import LinkKind, PresentationLink, Series, Session, SessionStatus


@dataclass(frozen=True)
class SeriesView:
    id: int
    slug: str
    name: str
    language: str
    timezone: str
    recurrence: str | None

    @classmethod
    def of(cls, series: Series | Row[Any]) -> SeriesView:
        """From the mapped row, or a Core row with the series table's columns."""
        return cls(series.id, series.slug, series.name, series.language, series.timezone, series.recurrence)


@dataclass(frozen=True)
class LinkView:
    id: int
    title: str
    speaker: str | None
    url: str
    kind: str = LinkKind.SLIDES.value

    @property
    def recording(self) -> bool:
        return self.kind == LinkKind.RECORDING.value

    @classmethod
    def of(cls, link: PresentationLink) -> LinkView:
        return cls(link.id, link.title, link.speaker, link.url, link.kind)


def recordings_first(links: Iterable[LinkView]) -> tuple[LinkView, ...]:
    """A session's links as every message and page shows them: recordings first, then the rest,
    each in the order they were added."""
    return tuple(sorted(links, key=lambda link: not link.recording))


@dataclass(frozen=True)
class SessionView:
    id: int
    series: SeriesView
    title: str
    topic: str | None
    speakers: str | None
    description: str | None
    start: datetime
    end: datetime
    duration_minutes: int
    join_url: str | None
    status: str
    sequence: int
    links: tuple[LinkView, ...]

    @property
    def cancelled(self) -> bool:
        return self.status == SessionStatus.CANCELLED.value

    @classmethod
    def of(cls, session: Session) -> SessionView:
        return cls(
            id=session.id,
            series=SeriesView.of(session.series),
            title=session.title,
            topic=session.topic,
            speakers=session.speakers,
            description=session.description,
            start=session.start_at,
            end=session.end_at,
            duration_minutes=session.duration_minutes,
            join_url=session.join_url,
            status=session.status,
            sequence=session.sequence,
            links=recordings_first(LinkView.of(link) for link in session.links),
        )

    @classmethod
    def of_row(cls, session_id: int, row: Any, series: SeriesView, links: Iterable[LinkView]) -> SessionView:
        """From a plain row holding the session table's columns (readers that skip the ORM)."""
        return cls(
            id=session_id,
            series=series,
            title=row.title,
            topic=row.topic,
            speakers=row.speakers,
            description=row.description,
            start=row.start_at,
            end=row.start_at + timedelta(minutes=row.duration_minutes),
            duration_minutes=row.duration_minutes,
            join_url=row.join_url,
            status=row.status,
            sequence=row.sequence,
            links=recordings_first(links),
        )
