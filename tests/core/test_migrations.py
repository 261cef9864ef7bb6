"""Alembic migrations on SQLite and (with TEST_DATABASE_URL) PostgreSQL: up, down, seed, ORM match.

Every test starts from an empty database of its own: a SQLite file in tmp_path, or a private
PostgreSQL schema that is dropped afterwards. An unreachable PostgreSQL fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Row,
    String,
    Time,
    column,
    func,
    insert,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session as OrmSession

import handlers.microsoft365.models
import handlers.slack.models
import handlers.web.models
from bot.db import make_engine
from bot.migrate import MIGRATIONS, at_head, code_head, current_revision, downgrade, head_revision, upgrade
from bot.models import Base, Organiser, Person, Series, Session, Subscription
from tests.conftest import BACKENDS, drop_pg_schema, new_pg_schema

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
SEED_SLUG = "baerekraftsfredag"
SEED_REVISION = "0002"
# The channels' tables are the schema's too (one migration history).
CHANNEL_MODELS = (handlers.microsoft365.models, handlers.slack.models, handlers.web.models)
APP_TABLES = {t.name for t in Base.metadata.sorted_tables}


def revision_before(revision: str) -> str:
    down = ScriptDirectory(str(MIGRATIONS)).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own, not migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    schema, url = new_pg_schema()
    try:
        yield url
    finally:
        drop_pg_schema(schema)


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    with engine_for(url) as engine:
        return set(inspect(engine).get_table_names())


def revision(url: str) -> str | None:
    with engine_for(url) as engine:
        return current_revision(engine)


# The series columns every revision has: tests at older revisions must not ask for newer ones.
SERIES = table(
    "series",
    column("id", Integer),
    column("slug", String),
    column("name", String),
    column("timezone", String),
    column("language", String),
    column("created_at", DateTime(timezone=True)),
)


def all_series(url: str) -> list[Row[Any]]:
    with engine_for(url) as engine, engine.connect() as conn:
        return list(conn.execute(select(SERIES).order_by(SERIES.c.id)))


def count(url: str, model: type[Base]) -> int:
    with engine_for(url) as engine, OrmSession(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def seed_id(url: str) -> int:
    [seed] = [x for x in all_series(url) if x.slug == SEED_SLUG]
    return seed.id


def use_seed(url: str, how: str) -> None:
    """Give the seed series a subscriber, a session or an organiser."""
    series_id = seed_id(url)
    with engine_for(url) as engine, OrmSession(engine) as s, s.begin():
        # Core, naming the columns revision 0002 has (the model has grown since).
        kari = {"name": "Kari", "email": "kari@kommune.no", "created_at": NOW}
        people = table("person", column("id"), *(column(c) for c in kari))
        person_id = s.execute(insert(people).values(kari).returning(people.c.id)).scalar_one()
        identity = {"person_id": person_id, "platform": "slack", "external_id": "U123", "created_at": NOW}
        s.execute(insert(table("identity", *(column(c) for c in identity))).values(identity))
        if how == "subscriber":
            # Core, naming the columns revision 0002 has (the model has grown since).
            columns = ("person_id", "series_id", "active", "source_channel", "consented_at")
            values = (person_id, series_id, True, "slack", NOW)
            s.execute(
                insert(table("subscription", *(column(c) for c in columns))).values(
                    dict(zip(columns, values, strict=True))
                )
            )
        elif how == "session":
            s.add(
                Session(
                    series_id=series_id,
                    title="Sirkulær økonomi",
                    start_at=datetime(2026, 3, 6, 8, 0, tzinfo=UTC),
                    duration_minutes=60,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        else:
            assert how == "organiser"
            s.add(Organiser(person_id=person_id, series_id=series_id, granted_at=NOW))


# --- up ----------------------------------------------------------------------------------------------


def test_upgrade_from_empty_to_head(empty_url: str) -> None:
    assert table_names(empty_url) == set()
    upgrade(empty_url)
    assert revision(empty_url) == head_revision()
    assert head_revision() is not None
    assert table_names(empty_url) == APP_TABLES | {"alembic_version"}


def test_the_head_read_without_alembic_is_alembics() -> None:
    assert code_head() == head_revision()


def test_at_head_only_when_the_schema_is_the_newest(empty_url: str) -> None:
    """Start-up skips Alembic only for a database at the head: an empty or older one is migrated."""
    with engine_for(empty_url) as engine:
        assert not at_head(engine)
        upgrade(empty_url, revision_before(code_head() or ""))
        assert not at_head(engine)
        upgrade(empty_url)
        assert at_head(engine)


def test_upgrade_seeds_baerekraftsfredag(empty_url: str) -> None:
    upgrade(empty_url)
    with engine_for(empty_url) as engine, OrmSession(engine) as s:
        [seed] = s.scalars(select(Series)).all()
    assert seed.slug == SEED_SLUG
    assert seed.name == "Bærekraftsfredag"
    assert seed.timezone == "Europe/Oslo"
    assert seed.language == "nb"
    assert seed.default_start_time == time(9, 0)
    assert seed.default_duration_minutes == 60
    assert seed.recurrence is None
    assert seed.created_at.tzinfo is not None


def test_upgrade_twice_changes_nothing(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)
    assert [x.slug for x in all_series(empty_url)] == [SEED_SLUG]


def test_no_seed_when_a_series_already_exists(empty_url: str) -> None:
    upgrade(empty_url, revision_before(SEED_REVISION))
    with engine_for(empty_url) as engine, engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO series (slug, name, language, timezone, default_start_time,"
                " default_duration_minutes, created_at) VALUES ('klimatorsdag', 'Klimatorsdag', 'nb',"
                " 'Europe/Oslo', '09:00:00', 60, '2026-03-04 10:00:00')"
            )
        )
    upgrade(empty_url)
    assert [x.slug for x in all_series(empty_url)] == ["klimatorsdag"]


# --- down and up again ------------------------------------------------------------------------------


def test_downgrade_one_step_removes_the_untouched_seed_and_upgrade_puts_it_back(empty_url: str) -> None:
    upgrade(empty_url, SEED_REVISION)
    downgrade(empty_url, "-1")
    assert revision(empty_url) == revision_before(SEED_REVISION)
    assert all_series(empty_url) == []
    upgrade(empty_url, SEED_REVISION)
    assert revision(empty_url) == SEED_REVISION
    [seed] = all_series(empty_url)
    assert (seed.slug, seed.name, seed.timezone, seed.language) == (
        SEED_SLUG,
        "Bærekraftsfredag",
        "Europe/Oslo",
        "nb",
    )


@pytest.mark.parametrize("how", ["subscriber", "session", "organiser"])
def test_downgrade_keeps_a_seed_in_use(empty_url: str, how: str) -> None:
    upgrade(empty_url, SEED_REVISION)
    use_seed(empty_url, how)
    kept_id = seed_id(empty_url)
    downgrade(empty_url, revision_before(SEED_REVISION))
    assert revision(empty_url) == revision_before(SEED_REVISION)
    assert [(x.id, x.slug) for x in all_series(empty_url)] == [(kept_id, SEED_SLUG)]
    upgrade(empty_url)
    # Nothing duplicated, nothing lost.
    assert [(x.id, x.slug) for x in all_series(empty_url)] == [(kept_id, SEED_SLUG)]
    model = {"subscriber": Subscription, "session": Session, "organiser": Organiser}[how]
    assert count(empty_url, model) == 1
    assert count(empty_url, Person) == 1


def test_downgrade_to_base_leaves_only_alembic_version(empty_url: str) -> None:
    upgrade(empty_url)
    use_seed(empty_url, "subscriber")
    downgrade(empty_url, "base")
    assert revision(empty_url) is None
    assert table_names(empty_url) == {"alembic_version"}
    with engine_for(empty_url) as engine:
        inspector = inspect(engine)
        assert inspector.get_view_names() == []
        if engine.dialect.name == "postgresql":
            assert inspector.get_sequence_names() == []
    # And from there all the way up again.
    upgrade(empty_url)
    assert table_names(empty_url) == APP_TABLES | {"alembic_version"}
    assert [x.slug for x in all_series(empty_url)] == [SEED_SLUG]


def test_every_step_goes_down_and_up(empty_url: str) -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    steps = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert steps[-1] == head_revision()
    for step in steps:
        upgrade(empty_url, step)
        assert revision(empty_url) == step
    for expected in reversed([None, *steps[:-1]]):
        downgrade(empty_url, "-1")
        assert revision(empty_url) == expected
    assert table_names(empty_url) == {"alembic_version"}


def test_teams_messages_already_carried_out_move_into_the_inbox_and_back(empty_url: str) -> None:
    upgrade(empty_url, "0009")
    processed = table("graph_processed_message", column("key"), column("created_at"))
    key = "channel:19:network@thread.tacv2:1764990000000"
    with engine_for(empty_url) as engine, engine.begin() as conn:
        conn.execute(insert(processed).values(key=key, created_at=NOW))
    upgrade(empty_url)
    assert "graph_processed_message" not in table_names(empty_url)
    requests = table("inbound_request", column("key"), column("channel"), column("kind"), column("state"))
    with engine_for(empty_url) as engine, engine.connect() as conn:
        rows = conn.execute(select(requests.c.key, requests.c.channel, requests.c.kind, requests.c.state))
        assert list(rows) == [(f"teams:{key}", "microsoft365", "teams_message", "done")]
    downgrade(empty_url, "0009")
    with engine_for(empty_url) as engine, engine.connect() as conn:
        assert list(conn.scalars(select(processed.c.key))) == [key]
        assert list(conn.scalars(select(requests.c.key))) == []


# --- models and migrations agree --------------------------------------------------------------------


def differences(url: str, metadata: MetaData) -> list[object]:
    with engine_for(url) as engine, engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_models_match_the_migrations(empty_url: str) -> None:
    upgrade(empty_url)
    assert differences(empty_url, Base.metadata) == []


def test_the_model_comparison_sees_a_difference(empty_url: str) -> None:
    """Guards the test above: a column the migrations lack is reported."""
    upgrade(empty_url)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for model_table in Base.metadata.sorted_tables:
        model_table.to_metadata(changed)
    changed.tables["series"].append_column(Column("colour", String(20), nullable=True))
    diffs = differences(empty_url, changed)
    assert len(diffs) == 1
    assert "colour" in repr(diffs[0])


def test_series_get_a_country_from_their_zone_or_language(empty_url: str) -> None:
    upgrade(empty_url, "0016")
    older = table(
        "series",
        *(column(c.name, c.type) for c in SERIES.columns),
        column("default_start_time", Time),
        column("default_duration_minutes", Integer),
    )
    with engine_for(empty_url) as engine, engine.begin() as conn:
        for slug, language, zone in (("verdensmaal", "en", "Europe/Copenhagen"), ("dansk", "da", "UTC")):
            conn.execute(
                insert(older).values(
                    slug=slug,
                    name=slug,
                    language=language,
                    timezone=zone,
                    default_start_time=time(9, 0),
                    default_duration_minutes=60,
                    created_at=NOW,
                )
            )
    upgrade(empty_url)
    countries = table("series", column("slug"), column("country"))
    with engine_for(empty_url) as engine, engine.connect() as conn:
        found = {
            slug: country for slug, country in conn.execute(select(countries.c.slug, countries.c.country))
        }
    assert found == {SEED_SLUG: "NO", "verdensmaal": "DK", "dansk": "DK"}
