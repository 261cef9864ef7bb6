"""The first series, Bærekraftsfredag, on an empty database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

series = sa.table(
    "series",
    sa.column("slug", sa.String),
    sa.column("name", sa.String),
    sa.column("language", sa.String),
    sa.column("timezone", sa.String),
    sa.column("default_start_time", sa.Time),
    sa.column("default_duration_minutes", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.select(sa.func.count()).select_from(series)).scalar():
        return
    now = datetime.now(UTC)
    op.bulk_insert(
        series,
        [
            {
                "slug": "baerekraftsfredag",
                "name": "Bærekraftsfredag",
                "language": "nb",
                "timezone": "Europe/Oslo",
                "default_start_time": time(9, 0),
                "default_duration_minutes": 60,
                "created_at": now.replace(tzinfo=None) if conn.dialect.name == "sqlite" else now,
            }
        ],
    )


def downgrade() -> None:
    conn = op.get_bind()
    # Only an untouched seed is removed: never take subscribers, organisers or sessions with it.
    used = sum(
        conn.execute(
            sa.text(
                f"SELECT count(*) FROM {table} JOIN series ON series.id = {table}.series_id"  # noqa: S608
                " WHERE series.slug = 'baerekraftsfredag'"
            )
        ).scalar()
        or 0
        for table in ("session", "subscription", "organiser")
    )
    if not used:
        conn.execute(sa.text("DELETE FROM series WHERE slug = 'baerekraftsfredag'"))
