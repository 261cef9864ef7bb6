"""«Bring a colleague»: each invitation asked for, as keyed hashes of who asked and for whom, so the
limits per inviter and per invited address hold across processes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "colleague_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("inviter_hash", sa.String(length=64), nullable=False),
        sa.Column("invitee_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_colleague_invitation_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_colleague_invitation")),
    )
    with op.batch_alter_table("colleague_invitation") as batch:
        batch.create_index("ix_colleague_invitation_inviter_at", ["inviter_hash", "created_at"])
        batch.create_index("ix_colleague_invitation_invitee_at", ["series_id", "invitee_hash", "created_at"])


def downgrade() -> None:
    op.drop_table("colleague_invitation")
