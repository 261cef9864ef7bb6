"""The Teams meeting's webinar options (lobby bypass, presenters, recording) on `graph_event`: what
they were set for, the last failure and the last attempt.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("graph_event") as batch:
        batch.add_column(sa.Column("options_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("options_problem", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("options_tried_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("graph_event") as batch:
        batch.drop_column("options_tried_at")
        batch.drop_column("options_problem")
        batch.drop_column("options_digest")
