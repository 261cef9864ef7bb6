"""Filling a benchmark database: many subscribers written in bulk (the command path is measured on
its own), and sessions planned through the services, as an organiser would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from bench.common import SECRET_KEY
from bot.commands import Actor, SessionFields
from bot.db import Database, make_engine
from bot.models import Base, Identity, Person, Series, Subscription
from bot.services.context import CoreConfig, Ctx
from bot.services.sessions import add_session

OPERATOR = Actor(platform="cli", external_id="bench", is_operator=True)
SERIES = "baerekraftsfredag"
CHUNK = 5000


def settle(db_url: str) -> None:
    """After a bulk load on PostgreSQL: the statistics (ANALYZE) and the visibility map (VACUUM) that
    autovacuum would have made by the time a list of this size is in daily use, and the load's own
    writes flushed (CHECKPOINT), so what is measured next is not the aftermath of the load."""
    engine = make_engine(db_url)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {tables}")  # in the schema of db_url's search_path
            conn.exec_driver_sql("CHECKPOINT")
    engine.dispose()


def add_subscribers(
    db_url: str,
    n: int,
    *,
    slack_prefix: str | None = None,
    email_domain: str | None = None,
    direct_messages: bool = False,
    channel: str = "slack",
    now: datetime | None = None,
) -> list[str]:
    """`n` active subscribers of the default series; each with a Slack id `<prefix><number>` and/or an
    address `p<number>@<domain>`. Returns the Slack ids (or the addresses)."""
    engine = make_engine(db_url)
    now = now or datetime.now(UTC)
    made: list[str] = []
    with engine.begin() as conn:
        series_id = conn.scalar(select(Series.id).where(Series.slug == SERIES))
        first = (conn.scalar(select(func.max(Person.id))) or 0) + 1
        for start in range(first, first + n, CHUNK):
            ids = range(start, min(start + CHUNK, first + n))
            conn.execute(
                insert(Person),
                [
                    {
                        "id": i,
                        "name": f"Person {i}",
                        "email": f"p{i}@{email_domain}" if email_domain else None,
                        "language": "nb" if i % 4 else "en",
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            if slack_prefix:
                conn.execute(
                    insert(Identity),
                    [
                        {
                            "person_id": i,
                            "platform": "slack",
                            "external_id": f"{slack_prefix}{i:07d}",
                            "created_at": now,
                        }
                        for i in ids
                    ],
                )
            conn.execute(
                insert(Subscription),
                [
                    {
                        "person_id": i,
                        "series_id": series_id,
                        "active": True,
                        "source_channel": channel,
                        "consented_at": now - timedelta(days=30),
                        "direct_messages": direct_messages,
                    }
                    for i in ids
                ],
            )
            made += [f"{slack_prefix}{i:07d}" if slack_prefix else f"p{i}@{email_domain}" for i in ids]
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('person', 'id'), (SELECT max(id) FROM person))"
            )
    engine.dispose()
    return made


def plan_sessions(
    db_url: str,
    starts: list[datetime],
    *,
    invitation: str | None = None,
    reminders: str | None = None,
    followup: str | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Set the default series' offsets (when given) and plan one session per start (UTC, to the second)."""
    engine = make_engine(db_url)
    db = Database(engine)
    config = CoreConfig(timezone="Europe/Oslo", language="nb", secret_key=SECRET_KEY)
    ids: list[int] = []
    now = now or datetime.now(UTC)
    with db.transaction() as s:
        ctx = Ctx(s, OPERATOR, now, config)
        series = s.scalars(select(Series).where(Series.slug == SERIES)).one()
        # As `baerekraft-bot series set` would (the offsets are plain columns of the series).
        series.invitation_offset = invitation or series.invitation_offset
        series.reminder_offsets = reminders if reminders is not None else series.reminder_offsets
        series.followup_delay = followup or series.followup_delay
        tz = ZoneInfo(series.timezone)
        for number, start in enumerate(starts, 1):
            local = start.astimezone(tz).replace(tzinfo=None)
            fields = SessionFields(title=f"Benchmark {number}", start_local=local)
            # Forced: a benchmark plans sessions seconds apart, overlapping on purpose.
            session = add_session(ctx, series, fields, force=True)
            ids.append(session.id)
    engine.dispose()
    return ids
