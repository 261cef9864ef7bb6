"""The outbox's work index in the order a claim takes rows (channel, state, priority, due, id), so a
claim reads the few rows it takes instead of sorting every pending one (10,000 for a large fan-out,
under the write lock on SQLite).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIM_ORDER = ["channel", "state", "priority", "due_at", "id"]
BEFORE = ["channel", "state", "due_at"]


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.drop_index("ix_delivery_work")
        batch_op.create_index("ix_delivery_work", CLAIM_ORDER, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.drop_index("ix_delivery_work")
        batch_op.create_index("ix_delivery_work", BEFORE, unique=False)
