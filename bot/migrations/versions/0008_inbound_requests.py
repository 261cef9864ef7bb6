"""Inbound requests: acked at once, carried out by the inbox worker; replaces processed_request.

The replay keys of the last day move over as finished requests, so a retry Slack sends during the
upgrade is still recognised.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=60), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_request")),
        sa.UniqueConstraint("key", name=op.f("uq_inbound_request_key")),
    )
    with op.batch_alter_table("inbound_request", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_request_state_received", ["state", "received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbound_request_received_at"), ["received_at"], unique=False)
    op.execute(
        "INSERT INTO inbound_request (key, channel, kind, state, received_at, attempts, finished_at) "
        "SELECT key, 'slack', 'replay-guard', 'done', created_at, 0, created_at FROM processed_request"
    )
    with op.batch_alter_table("processed_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_request_created_at"))
    op.drop_table("processed_request")


def downgrade() -> None:
    op.create_table(
        "processed_request",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_processed_request")),
    )
    with op.batch_alter_table("processed_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_request_created_at"), ["created_at"], unique=False)
    op.execute("INSERT INTO processed_request (key, created_at) SELECT key, received_at FROM inbound_request")
    with op.batch_alter_table("inbound_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_request_received_at"))
        batch_op.drop_index("ix_inbound_request_state_received")
    op.drop_table("inbound_request")
