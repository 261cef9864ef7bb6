"""What failed unexpectedly, in any process: the error policy's health board (`health_problem`), read
by /healthz, so the worker process's failures show on the front's report.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_problem",
        sa.Column("place", sa.String(length=120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("place", name=op.f("pk_health_problem")),
    )
    with op.batch_alter_table("health_problem") as batch_op:
        batch_op.create_index(batch_op.f("ix_health_problem_last_at"), ["last_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("health_problem") as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_problem_last_at"))
    op.drop_table("health_problem")
