"""Subscriber lists as CSV: import a list into a series, export the lists.

Import rules:
- The file needs a header naming `email`, `name` and `language` (any order and case; other columns are
  ignored). UTF-8 with or without a byte order mark; `,` or `;` between fields (Norwegian Excel writes
  `;`). Rows whose cells are all empty (spreadsheet leftovers) are ignored.
- Every row is validated before anything is written. Any invalid row stops the whole import unless
  `skip_invalid` is set, in which case the valid rows are imported and the invalid ones reported.
- An import never overrides an unsubscribe: people with an inactive subscription to the series,
  people whose address matches an erased person's keyed hash, and rows that carry an
  `unsubscribed_at` (as `export --include-unsubscribed` writes) are skipped. They must subscribe
  themselves. An import never reactivates anything.
- Existing people are matched by normalised e-mail; their name and language are only filled when
  empty, never overwritten.
- New subscriptions go through `services.subscriptions.create_subscriptions` (source channel
  "import", one audit event each, ids only) and the import ends with one `subscribers.imported`
  event holding the counts. Everything happens in the caller's transaction, so a failure part-way
  leaves nothing behind.

Export writes one row per subscription, neutralising cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple, TextIO, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from bot.models import Person, Series, Subscription
from bot.services import audit
from bot.services.context import Ctx
from bot.services.people import channels_of, email_hash, is_email, normalise_email
from bot.services.subscriptions import create_subscriptions
from bot.settings import LANGUAGES

REQUIRED_COLUMNS = ("email", "name", "language")
EXPORT_COLUMNS = ("email", "name", "language", "channels", "subscribed_at", "source_channel", "series")
# Written by `--include-unsubscribed`; on import, a row with a value here is never subscribed.
UNSUBSCRIBED_COLUMN = "unsubscribed_at"
IMPORT_CHANNEL = "import"
IMPORTED_ACTION = "subscribers.imported"
MAX_NAME = 200
# Cells starting with one of these are run as formulas by spreadsheets (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
IN_CHUNK = 500  # values per IN (...) list: well below SQLite's and PostgreSQL's parameter limits
BATCH = 1000  # rows per INSERT statement
EXPORT_FETCH = 1000  # rows fetched per round trip when exporting

T = TypeVar("T")
V = TypeVar("V")
ProgressHook = Callable[[int, int], None]
"""Called with (rows done, rows to do) while an import writes."""


class CsvFormatError(ValueError):
    """The file as a whole cannot be used (encoding, header, broken CSV): nothing was imported."""


class RowIssue(NamedTuple):
    """A row that was not imported: its line in the file (the header is line 1) and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class CsvRow:
    """One data row: its first line in the file, and its cells keyed by lower-case column name."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class Candidate:
    """A valid row, normalised: ready to be matched against the database."""

    line: int
    email: str
    name: str | None
    language: str | None


@dataclass
class ImportReport:
    series: str
    rows: int = 0
    created: int = 0
    # Always 0: an import never reactivates an ended subscription. Kept so reports read the same
    # as the ones of other ways of subscribing.
    reactivated: int = 0
    unchanged: int = 0
    skipped: list[RowIssue] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    # False when invalid rows stopped the import (no `skip_invalid`): nothing was written.
    applied: bool = True

    @property
    def failed(self) -> bool:
        """Rows were rejected and no valid row was imported: the CLI exits with 1."""
        return bool(self.rejected) and (not self.applied or self.created + self.unchanged == 0)


# --- reading ------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file's text: UTF-8, with or without a byte order mark."""
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise CsvFormatError(
            f"line {line}: not UTF-8 text; in Excel, save as 'CSV UTF-8 (comma delimited)'"
        ) from exc


def parse_csv(text: str) -> list[CsvRow]:
    """The data rows of a CSV text whose line 1 is a header naming `email`, `name` and `language`.

    Line numbers are those of the file, so a quoted field spanning lines moves the next rows down.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise CsvFormatError("the file is empty; line 1 must be a header: email,name,language")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.splitlines()[0]))
    rows: list[CsvRow] = []
    try:
        header = [name.strip().lower() for name in next(reader)]
        start = reader.line_num + 1
        for values in reader:
            if any(value.strip() for value in values):
                rows.append(CsvRow(start, _by_name(header, values)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvFormatError(f"line {reader.line_num}: {exc}") from exc
    return rows


def _delimiter(first_line: str) -> str:
    """`,` or `;`: whichever makes line 1 a header with the required columns."""
    for delimiter in (",", ";"):
        names = {name.strip().lower() for name in next(csv.reader([first_line], delimiter=delimiter))}
        if names.issuperset(REQUIRED_COLUMNS):
            return delimiter
    raise CsvFormatError(
        f"line 1 must be a header with the columns {', '.join(REQUIRED_COLUMNS)} (separated by , or ;);"
        f" found: {first_line[:200]!r}"
    )


def _by_name(header: list[str], values: list[str]) -> dict[str, str]:
    """Cells by column name; a missing cell is empty, and of two columns with one name the first wins."""
    cells: dict[str, str] = {}
    for name, value in zip(header, values, strict=False):
        cells.setdefault(name, value)
    return cells


# --- validating ---------------------------------------------------------------------------------


def validate(
    rows: Iterable[CsvRow], tz: ZoneInfo | None = None
) -> tuple[list[Candidate], list[RowIssue], list[RowIssue]]:
    """Split rows into valid candidates, rows recording an unsubscribe (skipped) and rejected rows.

    `tz` gives the date in the reason of a skipped row (default UTC).
    """
    valid: list[Candidate] = []
    skipped: list[RowIssue] = []
    rejected: list[RowIssue] = []
    first_line: dict[str, int] = {}
    for row in rows:
        left = row.cells.get(UNSUBSCRIBED_COLUMN, "").strip()
        if left:
            when = _parse_time(left)
            if when is None:
                rejected.append(RowIssue(row.line, f"{UNSUBSCRIBED_COLUMN} is not an ISO 8601 time"))
            else:
                skipped.append(RowIssue(row.line, left_reason(when, tz)))
            continue
        checked = _check(row, first_line)
        if isinstance(checked, Candidate):
            valid.append(checked)
        else:
            rejected.append(RowIssue(row.line, "; ".join(checked)))
    return valid, skipped, rejected


def _check(row: CsvRow, first_line: dict[str, int]) -> Candidate | list[str]:
    """The row as a candidate, or its problems. Records the row's address in `first_line`."""
    email = normalise_email(unescape(row.cells.get("email", "")))
    name = unescape(row.cells.get("name", "")).strip()
    language = row.cells.get("language", "").strip().lower()
    problems: list[str] = []
    if not email:
        problems.append("missing e-mail address")
    elif not is_email(email):
        problems.append("invalid e-mail address")
    elif email in first_line:
        problems.append(f"duplicate of line {first_line[email]}")
    else:
        first_line[email] = row.line
    if len(name) > MAX_NAME:
        problems.append(f"name longer than {MAX_NAME} characters")
    if language and language not in LANGUAGES:
        problems.append(f"unknown language {language[:20]!r} (use {' or '.join(LANGUAGES)}, or leave empty)")
    if problems:
        return problems
    return Candidate(row.line, email, name or None, language or None)


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def left_reason(when: datetime | None, tz: ZoneInfo | None = None) -> str:
    """Why a row was skipped: the person left, on this date (in `tz`, default UTC)."""
    day = when.astimezone(tz or UTC).date().isoformat() if when is not None else "an unknown date"
    return f"unsubscribed on {day}; must subscribe themselves"


def unescape(cell: str) -> str:
    """Undo `neutralise`, so an exported list imports unchanged."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


# --- importing ----------------------------------------------------------------------------------


@dataclass
class _Known:
    """What the database already holds about the file's addresses, loaded in bulk."""

    people: dict[str, Person]  # by e-mail
    subs: dict[int, Subscription]  # this series' subscriptions, by person id
    erased: dict[str, datetime | None]  # e-mail → when the erased person with that address left


def import_subscribers(
    ctx: Ctx,
    series: Series,
    source: str | bytes | TextIO,
    *,
    skip_invalid: bool = False,
    progress: ProgressHook | None = None,
) -> ImportReport:
    """Import a CSV file's rows into `series` in the caller's transaction; see the module's rules.

    Raises CsvFormatError when the file as a whole is unusable.
    """
    if isinstance(source, bytes):
        text = decode(source)
    else:
        text = source if isinstance(source, str) else source.read()
    return import_rows(ctx, series, parse_csv(text), skip_invalid=skip_invalid, progress=progress)


def import_rows(
    ctx: Ctx,
    series: Series,
    rows: Sequence[CsvRow],
    *,
    skip_invalid: bool = False,
    progress: ProgressHook | None = None,
) -> ImportReport:
    """Import parsed rows into `series` in the caller's transaction; see the module's rules."""
    tz = ZoneInfo(series.timezone)
    valid, skipped, rejected = validate(rows, tz)
    report = ImportReport(series=series.slug, rows=len(rows), skipped=skipped, rejected=rejected)
    if rejected and not skip_invalid:
        report.applied = False
        return report
    known = _load_known(ctx, series, [c.email for c in valid])
    todo = _classify(known, valid, report, tz)
    _create(ctx, series, todo, report, progress, total=len(valid))
    report.skipped.sort()
    _record_summary(ctx, series, report)
    return report


def _load_known(ctx: Ctx, series: Series, emails: list[str]) -> _Known:
    """The people with these addresses, erased people with their hashes, and their subscriptions."""
    s, key = ctx.s, ctx.config.secret_key
    people = {
        p.email: p
        for p in _in_chunks(emails, lambda chunk: s.scalars(select(Person).where(Person.email.in_(chunk))))
        if p.email is not None
    }
    by_hash = {email_hash(key, email): email for email in emails}
    erased = list(
        _in_chunks(list(by_hash), lambda chunk: s.scalars(select(Person).where(Person.email_hash.in_(chunk))))
    )
    ids = [p.id for p in people.values()] + [p.id for p in erased]
    subs = {
        sub.person_id: sub
        for sub in _in_chunks(
            ids,
            lambda chunk: s.scalars(
                select(Subscription).where(
                    Subscription.series_id == series.id, Subscription.person_id.in_(chunk)
                )
            ),
        )
    }
    return _Known(people, subs, _left_by_email(erased, by_hash, subs))


def _in_chunks(values: Sequence[V], fetch: Callable[[Sequence[V]], Iterable[T]]) -> Iterator[T]:
    """`fetch` for each slice of `values` small enough for one IN (...) list."""
    for start in range(0, len(values), IN_CHUNK):
        yield from fetch(values[start : start + IN_CHUNK])


def _left_by_email(
    erased: list[Person], by_hash: dict[str, str], subs: dict[int, Subscription]
) -> dict[str, datetime | None]:
    """For each address of an erased person: when they last left this series, or else were erased."""
    left: dict[str, datetime | None] = {}
    for person in erased:
        sub = subs.get(person.id)
        email = by_hash[person.email_hash or ""]
        known = [
            when
            for when in ((sub.unsubscribed_at if sub else None) or person.erased_at, left.get(email))
            if when is not None
        ]
        left[email] = max(known) if known else None
    return left


def _classify(
    known: _Known, valid: list[Candidate], report: ImportReport, tz: ZoneInfo
) -> list[tuple[Candidate, Person | None]]:
    """Count the unchanged rows, skip the people who left, and return the rows to subscribe."""
    todo: list[tuple[Candidate, Person | None]] = []
    for cand in valid:
        person = known.people.get(cand.email)
        sub = known.subs.get(person.id) if person is not None else None
        if person is not None and sub is not None and sub.active:
            report.unchanged += 1
            _fill(person, cand)
        elif sub is not None:
            report.skipped.append(RowIssue(cand.line, left_reason(sub.unsubscribed_at, tz)))
        elif cand.email in known.erased:
            report.skipped.append(RowIssue(cand.line, left_reason(known.erased[cand.email], tz)))
        else:
            todo.append((cand, person))
    return todo


def _fill(person: Person, cand: Candidate) -> None:
    """Fill what the person lacks; never overwrite what they (or another source) gave."""
    if cand.name and not person.name:
        person.name = cand.name
    if cand.language and not person.language:
        person.language = cand.language


def _create(
    ctx: Ctx,
    series: Series,
    todo: list[tuple[Candidate, Person | None]],
    report: ImportReport,
    progress: ProgressHook | None,
    total: int,
) -> None:
    """Create the people and subscriptions of `todo`, a batch of rows per statement."""
    done = total - len(todo)
    if progress is not None:
        progress(done, total)
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        fresh = iter(_insert_people(ctx, [cand for cand, person in batch if person is None]))
        ids: list[int] = []
        for cand, person in batch:
            if person is None:
                person = next(fresh)
            else:
                _fill(person, cand)
            ids.append(person.id)
        create_subscriptions(ctx, ids, series, channel=IMPORT_CHANNEL)
        report.created += len(ids)
        done += len(ids)
        if progress is not None:
            progress(done, total)


def _insert_people(ctx: Ctx, cands: list[Candidate]) -> list[Person]:
    """New people for `cands`, in their order, in one statement. The operator vouches for the file,
    so its addresses are trusted (see services.people)."""
    if not cands:
        return []
    rows = [{"email": c.email, "name": c.name, "language": c.language, "created_at": ctx.now} for c in cands]
    # render_nulls: send None as NULL instead of leaving the column out, which would split the rows
    # into one statement per run of rows with the same missing columns.
    stmt = insert(Person).returning(Person, sort_by_parameter_order=True).execution_options(render_nulls=True)
    return list(ctx.s.scalars(stmt, rows))


def _record_summary(ctx: Ctx, series: Series, report: ImportReport) -> None:
    event = audit.record(
        ctx,
        IMPORTED_ACTION,
        series_id=series.id,
        subject=("series", series.id),
        rows=report.rows,
        created=report.created,
        unchanged=report.unchanged,
        skipped=len(report.skipped),
        rejected=len(report.rejected),
    )
    event.channel = IMPORT_CHANNEL


def has_erased_people(s: Session) -> bool:
    """Whether any erased person left a hash, which only the same SECRET_KEY can match."""
    return bool(s.scalar(select(exists().where(Person.email_hash.is_not(None)))))


# --- exporting ----------------------------------------------------------------------------------


def export_subscribers(
    s: Session, out: TextIO, *, series: Series | None = None, include_unsubscribed: bool = False
) -> int:
    """Write the subscriptions (of `series`, or all) as CSV to `out`; returns the number of rows.

    One row per active subscription. With `include_unsubscribed`, ended ones too, and a last column
    `unsubscribed_at` (empty for active ones), which makes a later import skip those rows.
    Times are ISO 8601 in UTC; cells a spreadsheet would run as a formula get a leading `'`.
    """
    columns = EXPORT_COLUMNS + ((UNSUBSCRIBED_COLUMN,) if include_unsubscribed else ())
    writer = csv.writer(out)
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
    """A cell a spreadsheet shows as text: one starting a formula gets a leading `'`."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell
