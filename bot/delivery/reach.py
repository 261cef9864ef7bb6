"""Who no configured channel reaches: subscribers the bot holds but cannot tell anything (an imported
address with no mail transport, a Slack user without Slack). Shown wherever an operator or organiser
looks (`/healthz`, `send --dry-run`, `series show`, `antall`, the start-up log), never silently.

A subscriber is reached when some sender, for some kind of public message, has a target that is them
(a mail, a direct message, an activity-feed notice), or posts to a place shared by everyone (an
announcement channel) on a platform where they have an account (the sender's channel name is the
identity's platform: "slack", "teams", "console").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from bot.db import dialect_insert
from bot.delivery import kinds
from bot.delivery.batches import covered, is_batch
from bot.delivery.channels import Recipient, Sender
from bot.delivery.recipients import AudienceStamp, audience_stamp, subscribers
from bot.models import ReachCount, Series
from bot.views import SeriesView


def unreached(s: Session, series: Series, senders: Sequence[Sender]) -> list[Recipient]:
    """The series' active subscribers whom none of `senders` reaches."""
    return unreached_among(subscribers(s, series), SeriesView.of(series), senders)


def unreached_among(people: list[Recipient], view: SeriesView, senders: Sequence[Sender]) -> list[Recipient]:
    """Those of `people` (a series' subscribers) whom none of `senders` reaches."""
    left = people
    for sender in senders:
        for kind in sorted(kinds.PUBLIC):
            if not left:
                return left
            targets = sender.audience(kind, view, left)
            reached = {t.person_id for t in targets if t.person_id is not None} | covered(targets, left)
            shared = any(t.person_id is None and not is_batch(t.target) for t in targets)
            left = [
                p
                for p in left
                if p.person_id not in reached and not (shared and sender.channel in p.identities)
            ]
    return left


@dataclass(frozen=True)
class ReachFigure:
    """A series' count of subscribers no sender reaches, with a digest of what it was counted from;
    `stored`: as `reach_count` holds it already."""

    series_id: int
    slug: str
    basis: str
    unreached: int
    stored: bool


def reach_figures(s: Session, senders: Sequence[Sender]) -> list[ReachFigure]:
    """Each series' count: the one in `reach_count` while what it was counted from holds (a query of
    aggregates, `audience_stamp`, instead of reading every subscriber: a sixth of a second of CPU
    with 12,000), else counted now (`store_figures` keeps it for the next asker, in this process or
    another: the worker counts at its start, so the front's /healthz need not)."""
    channels = tuple(sender.channel for sender in senders)
    stored = {row.series_id: row for row in s.scalars(select(ReachCount))}
    figures = []
    for one in s.scalars(select(Series).order_by(Series.id)):
        basis = _basis(audience_stamp(s, one), channels)
        known = stored.get(one.id)
        holds = known is not None and known.basis == basis
        count = known.unreached if known is not None and holds else len(unreached(s, one, senders))
        figures.append(ReachFigure(one.id, one.slug, basis, count, stored=holds))
    return figures


def store_figures(s: Session, figures: Sequence[ReachFigure]) -> None:
    """Keep the counts made afresh (a count another process stored meanwhile is replaced)."""
    table = cast(Table, ReachCount.__table__)
    insert = dialect_insert(s.get_bind().dialect.name)
    for figure in figures:
        if not figure.stored:
            values = {"basis": figure.basis, "unreached": figure.unreached}
            s.execute(
                insert(table)
                .values(series_id=figure.series_id, **values)
                .on_conflict_do_update(index_elements=[table.c.series_id], set_=values)
            )


def unreached_by_series(figures: Sequence[ReachFigure]) -> dict[str, int]:
    """Per series' slug, how many of its subscribers no sender reaches (only series with any)."""
    return {figure.slug: figure.unreached for figure in figures if figure.unreached}


def _basis(stamp: AudienceStamp, channels: tuple[str, ...]) -> str:
    """A digest of what a series' count is made from: its subscribers' stamp and the senders."""
    return hashlib.sha256(repr((stamp, channels)).encode()).hexdigest()
