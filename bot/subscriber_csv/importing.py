"""Importing validated rows into a series, in the caller's transaction (rules: see bot.subscriber_csv).

What the database knows about the file's addresses is loaded in bulk; people are inserted a batch of
rows per statement, and subscriptions are created through `services.subscriptions`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from bot.models import Person, Series, Subscription
from bot.services import audit
from bot.services.context import Ctx
from bot.services.people import email_hash
from bot.services.subscriptions import create_subscriptions
from bot.subscriber_csv.rows import (
    Candidate,
    CsvRow,
    ImportReport,
    RowIssue,
    decode,
    left_reason,
    parse_csv,
    validate,
)

IMPORT_CHANNEL = "import"
IMPORTED_ACTION = "subscribers.imported"
IN_CHUNK = 500  # values per IN (...) list: well below SQLite's and PostgreSQL's parameter limits
BATCH = 1000  # rows per INSERT statement

T = TypeVar("T")
V = TypeVar("V")
ProgressHook = Callable[[int, int], None]
"""Called with (rows done, rows to do) while an import writes."""


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
    """Import a CSV file's rows into `series` in the caller's transaction; see the package's rules.

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
    """Import parsed rows into `series` in the caller's transaction; see the package's rules."""
    tz = ZoneInfo(series.timezone)
    valid, skipped, rejected, merged = validate(rows, tz)
    report = ImportReport(
        series=series.slug, rows=len(rows), skipped=skipped, rejected=rejected, merged=merged
    )
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
    audit.record(
        ctx,
        IMPORTED_ACTION,
        via=IMPORT_CHANNEL,
        series_id=series.id,
        subject=("series", series.id),
        rows=report.rows,
        created=report.created,
        unchanged=report.unchanged,
        skipped=len(report.skipped),
        rejected=len(report.rejected),
        merged=len(report.merged),
    )


def has_erased_people(s: Session) -> bool:
    """Whether any erased person left a hash, which only the same SECRET_KEY can match."""
    return bool(s.scalar(select(exists().where(Person.email_hash.is_not(None)))))
