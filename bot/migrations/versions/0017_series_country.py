"""A series' country, whose public holidays its recurrence rule skips: Denmark for a series in
Copenhagen's time zone or in Danish, Norway for the others.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("series") as batch:
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=False, server_default="NO"))
    series = sa.table(
        "series",
        sa.column("timezone", sa.String),
        sa.column("language", sa.String),
        sa.column("country", sa.String),
    )
    op.execute(
        series.update()
        .where(sa.or_(series.c.timezone == "Europe/Copenhagen", series.c.language == "da"))
        .values(country="DK")
    )


def downgrade() -> None:
    with op.batch_alter_table("series") as batch:
        batch.drop_column("country")
