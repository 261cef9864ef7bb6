"""web pages: pending double opt-ins and the web forms' rate limit

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_pending_confirmation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_web_pending_confirmation_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_pending_confirmation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_pending_confirmation_token_hash")),
    )
    with op.batch_alter_table("web_pending_confirmation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_pending_confirmation_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "web_rate_limit_hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_rate_limit_hit")),
    )
    with op.batch_alter_table("web_rate_limit_hit", schema=None) as batch_op:
        batch_op.create_index("ix_web_rate_limit_hit_bucket_at", ["bucket", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_rate_limit_hit", schema=None) as batch_op:
        batch_op.drop_index("ix_web_rate_limit_hit_bucket_at")
    op.drop_table("web_rate_limit_hit")
    with op.batch_alter_table("web_pending_confirmation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_pending_confirmation_expires_at"))
    op.drop_table("web_pending_confirmation")
