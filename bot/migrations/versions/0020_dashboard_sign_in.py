"""The organisers' dashboard: one-time sign-in links and browser sessions (hashes only).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_dashboard_link_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dashboard_link_token_hash")),
    )
    with op.batch_alter_table("dashboard_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboard_link_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dashboard_link_person_id"), ["person_id"], unique=False)

    op.create_table(
        "dashboard_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.Boolean(), nullable=False),
        sa.Column("signed_in_with", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_dashboard_session_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_session")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_dashboard_session_key_hash")),
    )
    with op.batch_alter_table("dashboard_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboard_session_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dashboard_session_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_table("dashboard_session")
    op.drop_table("dashboard_link")
