"""A session's attendance, as a platform's attendance reports count it (the numbers per session),
the reading of Teams' attendance reports (`graph_attendance`), and a presentation link's kind
(slides or a recording).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_attendance",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("attended", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["session.id"],
            name=op.f("fk_session_attendance_session_id_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_attendance")),
    )
    op.create_table(
        "graph_attendance",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.String(length=300), nullable=True),
        sa.Column("report_ids", sa.JSON(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("problem", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["session.id"],
            name=op.f("fk_graph_attendance_session_id_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_graph_attendance")),
    )
    with op.batch_alter_table("presentation_link") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="slides"))


def downgrade() -> None:
    with op.batch_alter_table("presentation_link") as batch:
        batch.drop_column("kind")
    op.drop_table("graph_attendance")
    op.drop_table("session_attendance")
