"""Exporting the subscriptions as CSV, one row per subscription, and neutralising formula cells."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Row, Select, String, Subquery, case, func, null, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql._typing import _ColumnExpressionArgument
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.models import Identity, Person, Series, Subscription
from bot.subscriber_csv.rows import FORMULA_START, UNSUBSCRIBED_COLUMN, starts_a_formula

EXPORT_COLUMNS = ("email", "name", "language", "channels", "subscribed_at", "source_channel", "series")
EXPORT_FETCH = 2000  # rows fetched per round trip when exporting
IDENTITY_CHANNELS = ("slack", "teams")  # the identities that make a channel of the export's
# A cell starting with one of these (visible ASCII, no formula's start) is text as it stands.
PLAIN_START = frozenset(chr(code) for code in range(0x21, 0x7F)) - frozenset(FORMULA_START)
# The channels cell by (has an address, has Slack, has Teams), as bot.services.people.channels_of
# names them, sorted.
CHANNELS = {
    (email, slack, teams): ";".join(
        name for name, present in (("email", email), ("slack", slack), ("teams", teams)) if present
    )
    for email in (False, True)
    for slack in (False, True)
    for teams in (False, True)
}


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
    statement = _statement(series, include_unsubscribed)
    cells = _cells_with_unsubscribed if include_unsubscribed else _cells
    # On the session's connection: plain rows, without the ORM's per-row bookkeeping.
    rows = s.connection().execute(statement, execution_options={"yield_per": EXPORT_FETCH})
    for chunk in rows.partitions():
        writer.writerows(map(cells, chunk))
        count += len(chunk)
    return count


def _statement(series: Series | None, include_unsubscribed: bool) -> Select[*tuple[Any, ...]]:
    """The subscriptions to export as plain rows (no ORM objects: a 100,000-row list in a second),
    with whether each person has a Slack or Teams identity, and the times as the text of the file."""
    identities = _identities()
    stmt = (
        select(
            Person.email,
            Person.name,
            Person.language,
            *(identities.c[platform] for platform in IDENTITY_CHANNELS),
            IsoUtc(Subscription.consented_at),
            Subscription.source_channel,
            Series.slug,
            IsoUtc(Subscription.unsubscribed_at) if include_unsubscribed else null(),
        )
        .join(Subscription.series)
        .join(Subscription.person)
        .outerjoin(identities, identities.c.person_id == Person.id)
        .order_by(Series.slug, Subscription.id)
    )
    if series is not None:
        stmt = stmt.where(Subscription.series_id == series.id)
    if not include_unsubscribed:
        stmt = stmt.where(Subscription.active.is_(True))
    return stmt


def _identities() -> Subquery:
    """Per person with an identity, 1 when one is on Slack (Teams), else 0: joined once, not asked
    for each row (two EXISTS a row were half of PostgreSQL's time for 100,000 rows)."""
    has = {
        platform: func.max(case((Identity.platform == platform, 1), else_=0)).label(platform)
        for platform in IDENTITY_CHANNELS
    }
    return select(Identity.person_id, *has.values()).group_by(Identity.person_id).subquery("identities")


def _cells(row: Row[*tuple[Any, ...]]) -> list[str]:
    """The row's cells; the people's own text neutralised (channels and times are the bot's)."""
    email, name, language, slack, teams, subscribed_at, source_channel, slug, _ = row
    return [
        neutralise(email or ""),
        neutralise(name or ""),
        neutralise(language or ""),
        CHANNELS[bool(email), bool(slack), bool(teams)],
        subscribed_at,
        neutralise(source_channel),
        neutralise(slug),
    ]


def _cells_with_unsubscribed(row: Row[*tuple[Any, ...]]) -> list[str]:
    """As `_cells`, and when the subscription ended (empty for an active one)."""
    return [*_cells(row), row[-1] or ""]


class IsoUtc(FunctionElement[str]):
    """A UTC time column as the text `iso_utc` makes of it (`2026-03-06T08:00:00Z`), formatted by the
    database: in Python, parsing and formatting 100,000 times took most of an export's second."""

    type = String()
    inherit_cache = True

    def __init__(self, column: _ColumnExpressionArgument[datetime | None]) -> None:
        super().__init__(column)


@compiles(IsoUtc, "sqlite")
def _iso_utc_sqlite(element: IsoUtc, compiler: SQLCompiler, **kw: Any) -> str:
    # bot.db.UTCDateTime stores UTC as SQLAlchemy writes a DateTime on SQLite,
    # `2026-03-06 08:00:00.000000`: the seconds as they stand (strftime would round the fraction).
    when = next(iter(element.clauses))
    text = func.substr(when, 1, 10, type_=String) + "T" + func.substr(when, 12, 8, type_=String) + "Z"
    return compiler.process(text, **kw)


@compiles(IsoUtc, "postgresql")
def _iso_utc_postgresql(element: IsoUtc, compiler: SQLCompiler, **kw: Any) -> str:
    when = next(iter(element.clauses))
    text = func.to_char(func.timezone("UTC", when), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    return compiler.process(text, **kw)


def iso_utc(when: datetime) -> str:
    """`2026-03-06T08:00:00Z` (isoformat is faster than strftime, which counts with 100,000 rows)."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text: one that may start a formula, look-alikes and invisible
    characters before one included, gets a leading `'`."""
    if cell[:1] in PLAIN_START:  # the common case, decided by its first character
        return cell
    return "'" + cell if starts_a_formula(cell) else cell
