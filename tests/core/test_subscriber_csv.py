"""Subscriber CSV import and export (bot.subscriber_csv), on every test database backend."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from bot import subscriber_csv
from bot.clock import ManualClock
from bot.commands import Actor
from bot.entry.composition import App, build
from bot.entry.settings import BotSettings
from bot.migrate import upgrade
from bot.models import AuditEvent, Identity, Person, Series, Subscription
from bot.services import subscriptions
from bot.services.context import Ctx
from bot.services.people import channels_of
from bot.services.privacy import erase
from bot.services.series import create_series
from bot.subscriber_csv import (
    CsvFormatError,
    ImportReport,
    RowIssue,
    decode,
    export_subscribers,
    import_subscribers,
    parse_csv,
)
from tests.conftest import NOW, drop_pg_schema, new_pg_schema

T = TypeVar("T")
OPERATOR = Actor("cli", "tester", is_operator=True)
HEADER = "email,name,language\n"


# --- helpers ------------------------------------------------------------------------------------


def run(app: App, fn: Callable[[Ctx], T], actor: Actor = OPERATOR) -> T:
    """`fn` in one committed transaction, as the CLI's `operate` runs it."""
    with app.db.transaction() as s:
        return fn(Ctx(s, actor, app.clock.now(), app.config))


def default_series(ctx: Ctx) -> Series:
    found = ctx.s.scalar(select(Series).where(Series.slug == "baerekraftsfredag"))
    assert found is not None
    return found


def do_import(
    app: App, text: str | bytes, *, skip_invalid: bool = False, slug: str | None = None
) -> ImportReport:
    def fn(ctx: Ctx) -> ImportReport:
        series = (
            default_series(ctx) if slug is None else ctx.s.scalars(select(Series).filter_by(slug=slug)).one()
        )
        return import_subscribers(ctx, series, text, skip_invalid=skip_invalid)

    return run(app, fn)


def do_export(
    app: App, *, slug: str | None = None, include_unsubscribed: bool = False
) -> list[dict[str, str]]:
    def fn(ctx: Ctx) -> str:
        series = ctx.s.scalars(select(Series).filter_by(slug=slug)).one() if slug else None
        out = io.StringIO(newline="")
        export_subscribers(ctx.s, out, series=series, include_unsubscribed=include_unsubscribed)
        return out.getvalue()

    return list(csv.DictReader(io.StringIO(run(app, fn), newline="")))


def subscriptions_by_email(app: App) -> dict[str, Subscription]:
    with app.db.read() as s:
        rows = s.execute(select(Person.email, Subscription).join(Subscription.person)).all()
        return {email: sub for email, sub in rows if email is not None}


def count(app: App, model: type[Any], *where: Any) -> int:
    with app.db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def person_of(app: App, email: str) -> Person:
    with app.db.read() as s:
        found = s.scalar(select(Person).where(Person.email == email))
        assert found is not None
        return found


def subscribe(app: App, email: str, *, name: str | None = None, language: str | None = None) -> None:
    """`email` subscribes themselves to the default series through the console."""
    actor = Actor("console", email, email=email, name=name, language=language)
    run(app, lambda ctx: subscriptions.subscribe(ctx, default_series(ctx)), actor)


def unsubscribe(app: App, email: str) -> None:
    run(
        app,
        lambda ctx: subscriptions.unsubscribe(ctx, default_series(ctx)),
        Actor("console", email, email=email),
    )


# --- reading the file ---------------------------------------------------------------------------


def test_header_in_any_order_and_case_with_extra_columns_and_quoted_fields() -> None:
    rows = parse_csv('Language,Phone, EMAIL ,NAME\nen,123,ola@x.no,"Nordmann, Ola ""O"""\n')
    assert len(rows) == 1
    assert rows[0].line == 2
    assert rows[0].cells == {
        "language": "en",
        "phone": "123",
        "email": "ola@x.no",
        "name": 'Nordmann, Ola "O"',
    }


def test_bom_and_semicolon_as_written_by_norwegian_excel() -> None:
    data = "\ufeffe-post;email;name;language\r\n;kari@x.no;Kari Ærlig;nb\r\n;;;\r\n".encode()
    rows = parse_csv(decode(data))
    assert [r.cells["email"] for r in rows] == ["kari@x.no"]  # the all-empty row is ignored
    assert rows[0].cells["name"] == "Kari Ærlig"


def test_line_numbers_count_file_lines_across_multi_line_fields() -> None:
    rows = parse_csv(HEADER + '"a@x.no","two\nlines",nb\n\nb@x.no,B,en\n')
    assert [r.line for r in rows] == [2, 5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"email,name\nola@x.no,Ola\n", "header"),
        (b"ola@x.no,Ola,nb\n", "header"),
        (
            b"email,name,language\nola@x.no,,nb\nkari@x.no,\x81se,nb\n",
            "line 3: neither UTF-8 nor Windows-1252",
        ),
        (b"\xef\xbb\xbfemail,name,language\nola@x.no,,nb\nkari@x.no,\xc5se,nb\n", "line 3: not UTF-8"),
    ],
)
def test_unusable_files_are_refused_as_a_whole(data: bytes, message: str) -> None:
    with pytest.raises(CsvFormatError, match=message):
        parse_csv(decode(data))


# --- importing ----------------------------------------------------------------------------------


def test_valid_import_creates_people_and_subscriptions(app: App) -> None:
    report = do_import(app, HEADER + "Ola@X.no ,Ola Nordmann,nb\nkari@x.no,,EN\nper@x.no,Per,\n")
    assert (report.created, report.unchanged, report.reactivated) == (3, 0, 0)
    assert report.skipped == [] and report.rejected == [] and report.applied and not report.failed
    subs = subscriptions_by_email(app)
    assert set(subs) == {"ola@x.no", "kari@x.no", "per@x.no"}
    assert all(s.active and s.source_channel == "import" and s.consented_at == NOW for s in subs.values())
    ola, kari = person_of(app, "ola@x.no"), person_of(app, "kari@x.no")
    assert (ola.name, ola.language) == ("Ola Nordmann", "nb")
    assert (kari.name, kari.language) == (None, "en")


def test_danish_and_nynorsk_and_regional_tags_are_taken(app: App) -> None:
    rows = "dansk@x.no,Dorte,da\nny@x.no,Nils,nn-NO\nno@x.no,Nora,no\ndk@x.no,Dan,da_DK\n"
    report = do_import(app, HEADER + rows)
    assert report.applied and report.rejected == []
    languages = {
        email: person_of(app, email).language for email in ("dansk@x.no", "ny@x.no", "no@x.no", "dk@x.no")
    }
    assert languages == {"dansk@x.no": "da", "ny@x.no": "nn", "no@x.no": "nb", "dk@x.no": "da"}


def test_a_language_the_bot_does_not_speak_is_refused_with_the_list(app: App) -> None:
    report = do_import(app, HEADER + "sv@x.no,Sven,sv\nfr@x.no,Fleur,fr\n")
    assert not report.applied and report.created == 0
    assert [issue.reason for issue in report.rejected] == [
        "unknown language 'sv' (use one of nb, en, da, nn, or leave it empty)",
        "unknown language 'fr' (use one of nb, en, da, nn, or leave it empty)",
    ]


def test_invalid_rows_are_all_reported_and_nothing_is_imported(app: App) -> None:
    text = (
        HEADER
        + "good@x.no,Good,nb\n"  # 2
        + "not-an-address,Bad,nb\n"  # 3
        + ",No address,en\n"  # 4
        + f"long@x.no,{'n' * 201},nb\n"  # 5
        + "lang@x.no,Lang,de\n"  # 6
        + "GOOD@x.no,Again,en\n"  # 7: merged into line 2, no error
    )
    report = do_import(app, text)
    assert not report.applied and report.failed
    assert report.created == 0
    assert report.rejected == [
        (3, "invalid e-mail address"),
        (4, "missing e-mail address"),
        (5, "name longer than 200 characters"),
        (6, "unknown language 'de' (use one of nb, en, da, nn, or leave it empty)"),
    ]
    assert report.merged == [(7, "same address as line 2; line 2 counts")]
    assert count(app, Subscription) == 0
    assert count(app, Person) == 0
    assert count(app, AuditEvent) == 0


def test_skip_invalid_imports_the_valid_rows_and_reports_the_others(app: App) -> None:
    report = do_import(
        app, HEADER + "a@x.no,A,nb\nbroken,B,nb\nb@x.no,B,xx\nc@x.no,C,en\n", skip_invalid=True
    )
    assert report.applied and not report.failed
    assert report.created == 2
    assert [r.line for r in report.rejected] == [3, 4]
    assert set(subscriptions_by_email(app)) == {"a@x.no", "c@x.no"}


def test_skip_invalid_with_only_invalid_rows_fails(app: App) -> None:
    report = do_import(app, HEADER + "broken,B,nb\n", skip_invalid=True)
    assert report.failed and report.created == 0
    assert count(app, Subscription) == 0


def test_re_import_is_idempotent(app: App) -> None:
    text = HEADER + "a@x.no,A,nb\nb@x.no,B,en\n"
    assert do_import(app, text).created == 2
    events = count(app, AuditEvent, AuditEvent.action == "subscription.created")
    again = do_import(app, text)
    assert (again.created, again.unchanged, again.skipped, again.rejected) == (0, 2, [], [])
    assert count(app, Subscription) == 2
    assert count(app, Person) == 2
    assert count(app, AuditEvent, AuditEvent.action == "subscription.created") == events


def test_unsubscribed_person_is_not_re_subscribed(app: App, clock: ManualClock) -> None:
    subscribe(app, "left@x.no")
    clock.advance(timedelta(days=3))
    unsubscribe(app, "left@x.no")
    clock.advance(timedelta(days=1))
    report = do_import(app, HEADER + "new@x.no,New,nb\nLEFT@x.no,Left,nb\n")
    assert report.created == 1
    assert report.skipped == [(3, "unsubscribed on 2026-03-07; must subscribe themselves")]
    assert report.reactivated == 0
    sub = subscriptions_by_email(app)["left@x.no"]
    assert not sub.active and sub.unsubscribe_channel == "console"


def test_erased_person_is_recognised_by_hash_and_not_re_subscribed(app: App) -> None:
    subscribe(app, "gone@x.no", name="Gone")
    run(app, erase, Actor("console", "gone@x.no", email="gone@x.no"))
    assert count(app, Person, Person.email == "gone@x.no") == 0
    report = do_import(app, HEADER + " Gone@X.no ,Gone,nb\n")
    assert report.created == 0
    assert report.skipped == [(2, "unsubscribed on 2026-03-04; must subscribe themselves")]
    assert count(app, Person, Person.email == "gone@x.no") == 0
    assert count(app, Subscription, Subscription.active.is_(True)) == 0


def test_rows_recording_an_unsubscribe_are_skipped(app: App) -> None:
    text = (
        "email,name,language,unsubscribed_at\n"
        "a@x.no,A,nb,\n"
        "b@x.no,B,nb,2026-01-31T23:30:00Z\n"
        "c@x.no,C,nb,soon\n"
    )
    report = do_import(app, text, skip_invalid=True)
    assert report.created == 1
    # The date is the series' local one (Europe/Oslo): 23:30 UTC is past midnight there.
    assert report.skipped == [(3, "unsubscribed on 2026-02-01; must subscribe themselves")]
    assert report.rejected == [(4, "unsubscribed_at is not an ISO 8601 time")]
    assert set(subscriptions_by_email(app)) == {"a@x.no"}


def test_existing_person_is_matched_by_email_and_never_overwritten(app: App) -> None:
    subscribe(app, "ola@x.no", name="Ola Nordmann")  # no language yet
    run(app, lambda ctx: create_series(ctx, "verdensmaal", "Verdensmål", "nb", "Europe/Oslo"))
    report = do_import(app, HEADER + "OLA@x.no,Somebody Else,en\n", slug="verdensmaal")
    assert report.created == 1
    ola = person_of(app, "ola@x.no")
    assert (ola.name, ola.language) == ("Ola Nordmann", "en")
    assert count(app, Person) == 1
    assert count(app, Subscription, Subscription.person_id == ola.id) == 2


def test_audit_one_event_per_subscription_with_ids_only_and_a_summary(app: App) -> None:
    subscribe(app, "old@x.no")
    report = do_import(
        app, HEADER + "a@x.no,Anne,nb\nb@x.no,Bo,en\nold@x.no,Old,nb\nbad,X,nb\n", skip_invalid=True
    )
    assert (report.created, report.unchanged, len(report.rejected)) == (2, 1, 1)
    with app.db.read() as s:
        events = list(
            s.scalars(select(AuditEvent).where(AuditEvent.channel == "import").order_by(AuditEvent.id))
        )
        subs = {
            sub.id: sub.person_id
            for sub in s.scalars(select(Subscription).where(Subscription.source_channel == "import"))
        }
    created = [e for e in events if e.action == "subscription.created"]
    assert {(e.subject_type, e.subject_id) for e in created} == {("subscription", i) for i in subs}
    assert all(e.details == {"person_id": subs[e.subject_id or 0]} for e in created)
    assert all(e.actor_label == "cli:tester" and e.actor_person_id is None for e in events)
    summary = [e for e in events if e.action == "subscribers.imported"]
    assert len(summary) == 1
    assert summary[0].details == {
        "rows": 4,
        "created": 2,
        "unchanged": 1,
        "skipped": 0,
        "rejected": 1,
        "merged": 0,
    }
    assert "@" not in json.dumps([e.details for e in events])
    assert "Anne" not in json.dumps([e.details for e in events])


def test_a_failure_part_way_leaves_nothing_behind(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = subscriptions.create_subscriptions

    def failing(*args: Any, **kwargs: Any) -> list[Subscription]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(subscriber_csv.importing, "create_subscriptions", failing)
    text = HEADER + "".join(f"p{i}@x.no,P {i},nb\n" for i in range(subscriber_csv.BATCH + 10))
    with pytest.raises(RuntimeError, match="went away"):
        do_import(app, text)
    assert calls == 2  # the first batch was flushed before the failure
    assert count(app, Subscription) == 0
    assert count(app, Person) == 0
    assert count(app, AuditEvent) == 0


def test_progress_is_reported_up_to_the_total(app: App) -> None:
    seen: list[tuple[int, int]] = []
    text = HEADER + "".join(f"p{i}@x.no,,\n" for i in range(2500))
    run(
        app,
        lambda ctx: import_subscribers(
            ctx, default_series(ctx), text, progress=lambda d, t: seen.append((d, t))
        ),
    )
    assert seen[-1] == (2500, 2500)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# --- exporting ----------------------------------------------------------------------------------


def test_export_columns_values_and_series_filter(app: App) -> None:
    subscribe(app, "kari@x.no", name="Kari", language="nb")
    run(app, lambda ctx: create_series(ctx, "verdensmaal", "Verdensmål", "en", "Europe/Oslo"))
    do_import(app, HEADER + "ola@x.no,Ola,en\n", slug="verdensmaal")
    with app.db.transaction() as s:
        kari = s.scalars(select(Person).where(Person.email == "kari@x.no")).one()
        s.add(Identity(person_id=kari.id, platform="slack", external_id="U1", created_at=NOW))

    rows = do_export(app)
    assert list(rows[0]) == [
        "email",
        "name",
        "language",
        "channels",
        "subscribed_at",
        "source_channel",
        "series",
    ]
    at = "2026-03-04T10:00:00Z"
    assert [list(r.values()) for r in rows] == [
        ["kari@x.no", "Kari", "nb", "email;slack", at, "console", "baerekraftsfredag"],
        ["ola@x.no", "Ola", "en", "email", at, "import", "verdensmaal"],
    ]
    assert [r["email"] for r in do_export(app, slug="verdensmaal")] == ["ola@x.no"]


def test_export_of_unsubscribed_adds_a_column_and_re_imports_without_re_subscribing(
    app: App, clock: ManualClock
) -> None:
    subscribe(app, "stay@x.no")
    subscribe(app, "left@x.no")
    clock.advance(timedelta(hours=2))
    unsubscribe(app, "left@x.no")
    assert [r["email"] for r in do_export(app)] == ["stay@x.no"]
    rows = do_export(app, include_unsubscribed=True)
    assert [(r["email"], r["unsubscribed_at"]) for r in rows] == [
        ("stay@x.no", ""),
        ("left@x.no", "2026-03-04T12:00:00Z"),
    ]
    out = io.StringIO(newline="")
    run(app, lambda ctx: export_subscribers(ctx.s, out, include_unsubscribed=True))
    with app.db.transaction() as s:  # a fresh start: forget everything, then import the export
        for table in (AuditEvent, Subscription, Identity, Person):
            s.execute(delete(table))
    report = do_import(app, out.getvalue())
    assert report.created == 1
    assert report.skipped == [RowIssue(3, "unsubscribed on 2026-03-04; must subscribe themselves")]
    assert set(subscriptions_by_email(app)) == {"stay@x.no"}


def test_export_names_each_channel_once_however_many_identities_a_person_has(app: App) -> None:
    subscribe(app, "kari@x.no")
    subscribe(app, "ola@x.no")
    with app.db.transaction() as s:
        kari = s.scalars(select(Person).where(Person.email == "kari@x.no")).one()
        for platform, external_id in (("slack", "U1"), ("slack", "U2"), ("teams", "T1")):
            s.add(Identity(person_id=kari.id, platform=platform, external_id=external_id, created_at=NOW))
    rows = do_export(app)
    assert [(r["email"], r["channels"]) for r in rows] == [
        ("kari@x.no", "email;slack;teams"),
        ("ola@x.no", "email"),
    ]


def test_export_leaves_mail_out_of_the_channels_of_people_whose_mail_is_suspended(app: App) -> None:
    """A suspended address (repeated hard bounces) reaches nobody: the channels cell names what does,
    as `mine data` (bot.services.people.channels_of) does; the address itself stays in its column."""
    for email in ("kari@x.no", "ola@x.no", "per@x.no"):
        subscribe(app, email)
    with app.db.transaction() as s:
        people = {p.email: p for p in s.scalars(select(Person))}
        s.add(Identity(person_id=people["kari@x.no"].id, platform="slack", external_id="U1", created_at=NOW))
        for email in ("kari@x.no", "ola@x.no"):
            people[email].mail_suspended_at = NOW
    rows = do_export(app)
    assert [(r["email"], r["channels"]) for r in rows] == [
        ("kari@x.no", "slack"),
        ("ola@x.no", ""),
        ("per@x.no", "email"),
    ]
    with app.db.read() as s:
        said = {p.email: ";".join(channels_of(p)) for p in s.scalars(select(Person))}
    assert {r["email"]: r["channels"] for r in rows} == said


def test_export_times_are_utc_to_the_second_as_iso_utc_writes_them(app: App) -> None:
    """The database writes the times (bot.subscriber_csv.exporting.IsoUtc): to the second as
    `iso_utc` does, the fraction cut off, never rounded up into the next second or day."""
    subscribe(app, "late@x.no")
    subscribe(app, "left@x.no")
    consented = datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=ZoneInfo("Europe/Oslo"))
    left = datetime(2027, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    with app.db.transaction() as s:
        for sub in s.scalars(select(Subscription)):
            sub.consented_at = consented
    ended = subscriptions_by_email(app)
    with app.db.transaction() as s:
        gone = s.get(Subscription, ended["left@x.no"].id)
        assert gone is not None
        gone.active, gone.unsubscribed_at = False, left
    rows = do_export(app, include_unsubscribed=True)
    assert [(r["email"], r["subscribed_at"], r["unsubscribed_at"]) for r in rows] == [
        ("late@x.no", "2026-12-31T22:59:59Z", ""),
        ("left@x.no", "2026-12-31T22:59:59Z", "2027-01-01T00:00:00Z"),
    ]
    assert subscriber_csv.iso_utc(consented) == "2026-12-31T22:59:59Z"
    assert subscriber_csv.iso_utc(left) == "2027-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "danger",
    [
        "=1+1",
        "+47 123",
        "-2",
        "@SUM(A1)",
        "\tx",
        "\rx",
        # Look-alikes, and invisible characters or spaces before a formula.
        "＝1+1",
        "＋47",
        "－2",
        "＠SUM(A1)",
        "﹦1",
        "\u200b=1+1",
        "\ufeff=HYPERLINK(x)",
        "\u2060\u200d+1",
        " =1",
        "\u00a0\u3000=1",
        "\n=1",
    ],
)
def test_formula_cells_are_neutralised_and_survive_a_round_trip(app: App, danger: str) -> None:
    subscribe(app, "ola@x.no", name=danger)
    assert do_export(app)[0]["name"] == "'" + danger
    assert subscriber_csv.neutralise("=HYPERLINK(x)@x.no") == "'=HYPERLINK(x)@x.no"
    assert subscriber_csv.neutralise("ola@x.no") == "ola@x.no"
    assert subscriber_csv.neutralise("Ola \u200b=") == "Ola \u200b="
    assert subscriber_csv.unescape("'" + danger) == danger
    assert subscriber_csv.unescape("'Ola") == "'Ola"


# --- the file byte for byte ---------------------------------------------------------------------

# Names that need quoting, neutralising, or neither, and none at all.
AWKWARD_NAMES = [
    "Nordmann, Ola",
    'Ola "O" Nordmann',
    "Kari\nNordmann",
    "Per\r\nHansen",
    "Liv\rLie",
    "semi;colon",
    "=1+1",
    "+47 123",
    "-2",
    "@SUM(A1)",
    "\tx",
    " =1",
    "\u200b=1+1",
    "\ufeff=HYPERLINK(x)",
    "＝1",
    "Åse Ødegård",
    "Ærlig",
    "Дмитрий",
    "'sitert'",
    "",
    None,
]


def reference_export(app: App, *, include_unsubscribed: bool, delimiter: str) -> str:
    """The export as its rules say, made in Python from the ORM's objects with `csv.writer`: what the
    database-formatted export must equal, byte for byte."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(
        list(subscriber_csv.EXPORT_COLUMNS) + (["unsubscribed_at"] if include_unsubscribed else [])
    )
    with app.db.read() as s:
        subs = s.scalars(
            select(Subscription).join(Subscription.series).order_by(Series.slug, Subscription.id)
        )
        for sub in subs:
            if not (sub.active or include_unsubscribed):
                continue
            person = sub.person
            cells = [
                *(
                    subscriber_csv.neutralise(cell or "")
                    for cell in (person.email, person.name, person.language)
                ),
                ";".join(channels_of(person)),  # as `mine data` names them
                subscriber_csv.iso_utc(sub.consented_at),
                subscriber_csv.neutralise(sub.source_channel),
                subscriber_csv.neutralise(sub.series.slug),
            ]
            if include_unsubscribed:
                cells.append(subscriber_csv.iso_utc(sub.unsubscribed_at) if sub.unsubscribed_at else "")
            writer.writerow(cells)
    return out.getvalue()


def export_text(app: App, *, include_unsubscribed: bool, delimiter: str) -> tuple[str, int]:
    """The export's text and its count of rows."""
    out = io.StringIO(newline="")
    count = run(
        app,
        lambda ctx: export_subscribers(
            ctx.s, out, include_unsubscribed=include_unsubscribed, delimiter=delimiter
        ),
    )
    return out.getvalue(), count


def add_awkward_people(app: App) -> None:
    """People in two series with every kind of cell: awkward names, no address, no language, chat
    identities, suspended mail, ended subscriptions, times with a fraction of a second in another
    time zone."""
    run(app, lambda ctx: create_series(ctx, "verdensmaal", "Verdensmål", "en", "Europe/Oslo"))
    oslo = ZoneInfo("Europe/Oslo")
    with app.db.transaction() as s:
        series = s.scalars(select(Series).order_by(Series.slug)).all()
        for i, name in enumerate(AWKWARD_NAMES * 3):
            email = None if i % 7 == 3 else f"p{i}@x.no"
            language = (None, "nb", "en", "=nn")[i % 4]
            suspended = NOW if i % 5 == 1 else None  # mail suspended after hard bounces
            person = Person(
                name=name, email=email, language=language, created_at=NOW, mail_suspended_at=suspended
            )
            for platform in (("slack",), ("teams",), ("slack", "teams", "slack"), ())[i % 4]:
                person.identities.append(
                    Identity(
                        platform=platform,
                        external_id=f"{platform}{i}-{len(person.identities)}",
                        created_at=NOW,
                    )
                )
            s.add(person)
            for n, one in enumerate(series):
                if (i + n) % 3 == 2:
                    continue
                ended = (i + n) % 5 == 0
                s.add(
                    Subscription(
                        person=person,
                        series=one,
                        source_channel=("import", "slack", "-web")[(i + n) % 3],
                        consented_at=datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=oslo)
                        + timedelta(minutes=i),
                        active=not ended,
                        unsubscribed_at=NOW + timedelta(seconds=i, microseconds=500_000) if ended else None,
                    )
                )


def test_a_cell_starting_with_a_plain_first_character_needs_no_neutralising_whatever_follows() -> None:
    """The export skips `neutralise` for chunks whose cells all start with one of PLAIN_FIRST."""
    plain = subscriber_csv.exporting.PLAIN_FIRST
    assert {"Å", "Ø", "Æ", "é", "ü", "a", "1", "'", ""} <= plain
    assert subscriber_csv.neutralise("") == ""
    for ch in plain - {""}:
        for rest in ("", "=1+1", "\u200b=1", "\ufeff=HYPERLINK(x)", " =1"):
            assert subscriber_csv.neutralise(ch + rest) == ch + rest
    for ch in ("=", "+", "-", "@", "\t", "\r", " ", "\xa0", "\xad", "\u200b", "\ufeff", "＝"):
        assert ch not in plain


@pytest.mark.parametrize("fetch", [1, 7, 2000])
def test_export_is_byte_for_byte_what_csv_writer_makes_of_the_rules(
    app: App, monkeypatch: pytest.MonkeyPatch, fetch: int
) -> None:
    """The database formats the cells and the rows are joined without `csv.writer` when nothing needs
    quoting: the bytes must be those of the rules applied in Python, quoting, neutralising, channels,
    times and line ends alike, in chunks that need quoting or neutralising and chunks that do not."""
    add_awkward_people(app)
    for _ in range(10):  # plain rows too, so that with a small fetch some chunks are plain
        subscribe(app, f"plain{_}@x.no", name=f"Plain {_}", language="nb")
    monkeypatch.setattr(subscriber_csv.exporting, "EXPORT_FETCH", fetch)
    for include_unsubscribed in (False, True):
        for delimiter in (",", ";"):
            text, count = export_text(app, include_unsubscribed=include_unsubscribed, delimiter=delimiter)
            expected = reference_export(app, include_unsubscribed=include_unsubscribed, delimiter=delimiter)
            assert text == expected
            assert count == len(list(csv.reader(io.StringIO(expected, newline=""), delimiter=delimiter))) - 1


# --- 10,000 rows, export → import into a fresh database -----------------------------------------


@pytest.fixture
def fresh_app(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[App]:
    """A second, empty (migrated and seeded) database on the same backend as `app`."""
    schema = None
    if db_url.startswith("sqlite"):
        path = tmp_path / "fresh.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        schema, url = new_pg_schema()
        upgrade(url)
    settings = BotSettings(
        database_url=url, secret_key="another-secret-key-0123456789", secret_key_is_temporary=False
    )
    bot = build(settings, clock=ManualClock(NOW + timedelta(days=1)), migrate=False)
    yield bot
    bot.close()
    if schema is not None:
        drop_pg_schema(schema)


def test_ten_thousand_rows_export_and_import_into_a_fresh_database(app: App, fresh_app: App) -> None:
    languages = ("nb", "en", "")
    source = HEADER + "".join(
        f'user{i}@example.org,"Åse Ødegård, {i}",{languages[i % 3]}\n' for i in range(10_000)
    )
    assert do_import(app, source).created == 10_000
    out = io.StringIO(newline="")
    assert run(app, lambda ctx: export_subscribers(ctx.s, out)) == 10_000
    report = do_import(fresh_app, out.getvalue())
    assert (report.created, report.rejected, report.skipped) == (10_000, [], [])

    def key(rows: list[dict[str, str]]) -> set[tuple[str, ...]]:
        return {(r["email"], r["name"], r["language"], r["series"], r["channels"]) for r in rows}

    exported = key(do_export(app))
    assert len(exported) == 10_000
    assert key(do_export(fresh_app)) == exported
    assert ("user7@example.org", "Åse Ødegård, 7", "en", "baerekraftsfredag", "email") in exported
