"""Channels held back as a whole (revoked credentials, a missing permission) or for one target (an
archived announcement channel): `channel_hold`, shared by every process, so a fan-out waits instead of
failing row by row, and /healthz shows the pause in any process.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_hold",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("problem", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("began_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("probe_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("probe_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "target", name=op.f("pk_channel_hold")),
    )


def downgrade() -> None:
    op.drop_table("channel_hold")
