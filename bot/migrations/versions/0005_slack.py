"""slack: requests already handled, so a retried or replayed one acts once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_request",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_processed_request")),
    )
    with op.batch_alter_table("processed_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_request_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("processed_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_request_created_at"))
    op.drop_table("processed_request")
