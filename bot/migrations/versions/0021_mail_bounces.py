"""Bounced mail: each bounce of an address, and the suspension of a person's mail after too many
hard bounces.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD/DROP COLUMN: a batch copy of `person` would break the tables that refer to it.
    op.add_column("person", sa.Column("mail_suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("person", sa.Column("mail_resumed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "mail_bounce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hard", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("diagnostic", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_mail_bounce_person_id_person"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_bounce")),
        sa.UniqueConstraint("key", name=op.f("uq_mail_bounce_key")),
    )
    op.create_index(op.f("ix_mail_bounce_address"), "mail_bounce", ["address"])
    op.create_index("ix_mail_bounce_person_at", "mail_bounce", ["person_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_mail_bounce_person_at", table_name="mail_bounce")
    op.drop_index(op.f("ix_mail_bounce_address"), table_name="mail_bounce")
    op.drop_table("mail_bounce")
    op.drop_column("person", "mail_resumed_at")
    op.drop_column("person", "mail_suspended_at")
