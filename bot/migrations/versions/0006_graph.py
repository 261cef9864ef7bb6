"""microsoft graph: the encrypted Teams login, meeting events, mail ledger, Teams cursors and dedupe

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "graph_login",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("token_cache", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("logged_in_at", MOMENT, nullable=False),
        sa.Column("refreshed_at", MOMENT, nullable=True),
        sa.Column("problem", sa.String(length=300), nullable=True),
        sa.Column("problem_at", MOMENT, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_graph_login")),
    )
    op.create_table(
        "graph_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=True),
        sa.Column("online_meeting", sa.Boolean(), nullable=False),
        sa.Column("join_url", sa.String(length=2000), nullable=True),
        sa.Column("attendee_ids", sa.JSON(), nullable=False),
        sa.Column("invited", sa.Boolean(), nullable=False),
        sa.Column("synced_sequence", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["session.id"],
            name=op.f("fk_graph_event_session_id_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_event")),
        sa.UniqueConstraint("session_id", "part", name=op.f("uq_graph_event_session_id")),
    )
    op.create_table(
        "graph_mail_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", MOMENT, nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_mail_ledger")),
    )
    with op.batch_alter_table("graph_mail_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_graph_mail_ledger_at"), ["at"], unique=False)
    op.create_table(
        "graph_cursor",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("watching_since", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_graph_cursor")),
    )
    op.create_table(
        "graph_subscription",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("resource", sa.String(length=500), nullable=False),
        sa.Column("expires_at", MOMENT, nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_subscription")),
    )
    with op.batch_alter_table("graph_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_graph_subscription_resource"), ["resource"], unique=False)
    op.create_table(
        "graph_processed_message",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_graph_processed_message")),
    )
    with op.batch_alter_table("graph_processed_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_graph_processed_message_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("graph_processed_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_graph_processed_message_created_at"))
    op.drop_table("graph_processed_message")
    with op.batch_alter_table("graph_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_graph_subscription_resource"))
    op.drop_table("graph_subscription")
    op.drop_table("graph_cursor")
    with op.batch_alter_table("graph_mail_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_graph_mail_ledger_at"))
    op.drop_table("graph_mail_ledger")
    op.drop_table("graph_event")
    op.drop_table("graph_login")
