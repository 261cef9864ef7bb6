"""Exporting the subscriptions as CSV, one row per subscription, and neutralising formula cells."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager, joinedload

from bot.models import Person, Series, Subscription
from bot.services.people import channels_of
from bot.subscriber_csv.rows import UNSUBSCRIBED_COLUMN, starts_a_formula

EXPORT_COLUMNS = ("email", "name", "language", "channels", "subscribed_at", "source_channel", "series")
EXPORT_FETCH = 1000  # rows fetched per round trip when exporting


def export_subscribers(
    s: Session,
    out: TextIO,
    *,
    series: Series | None = None,
    include_unsubscribed: bool = False,
    delimiter: str = ",",
) -> int:
    """Write the subscriptions (of `series`, or all) as CSV to `out`; returns the number of rows.

    One row per active subscription. With `include_unsubscribed`, ended ones too, and a last column
    `unsubscribed_at` (empty for active ones), which makes a later import skip those rows.
    Times are ISO 8601 in UTC; cells a spreadsheet would run as a formula get a leading `'`.
    `delimiter`: `;` for a spreadsheet set up for Norwegian or Danish (where `,` is the decimal sign).
    """
    columns = EXPORT_COLUMNS + ((UNSUBSCRIBED_COLUMN,) if include_unsubscribed else ())
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(columns)
    count = 0
    for sub in _subscriptions(s, series, include_unsubscribed):
        writer.writerow([neutralise(cell) for cell in _cells(sub, include_unsubscribed)])
        count += 1
    return count


def _subscriptions(s: Session, series: Series | None, include_unsubscribed: bool) -> Iterator[Subscription]:
    """The subscriptions to export, streamed a chunk at a time with their people and identities."""
    stmt = (
        select(Subscription)
        .join(Subscription.series)
        .options(
            contains_eager(Subscription.series),
            joinedload(Subscription.person).selectinload(Person.identities),
        )
        .order_by(Series.slug, Subscription.id)
        .execution_options(yield_per=EXPORT_FETCH)
    )
    if series is not None:
        stmt = stmt.where(Subscription.series_id == series.id)
    if not include_unsubscribed:
        stmt = stmt.where(Subscription.active.is_(True))
    yield from s.scalars(stmt)


def _cells(sub: Subscription, include_unsubscribed: bool) -> list[str]:
    person = sub.person
    cells = [
        person.email or "",
        person.name or "",
        person.language or "",
        ";".join(channels_of(person)),
        iso_utc(sub.consented_at),
        sub.source_channel,
        sub.series.slug,
    ]
    if include_unsubscribed:
        cells.append(iso_utc(sub.unsubscribed_at) if sub.unsubscribed_at is not None else "")
    return cells


def iso_utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text: one that may start a formula, look-alikes and invisible
    characters before one included, gets a leading `'`."""
    return "'" + cell if starts_a_formula(cell) else cell
