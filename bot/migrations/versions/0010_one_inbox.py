"""One inbound path: Teams messages are handled once through `inbound_request`, like Slack's requests.

The keys of Teams messages already carried out (`graph_processed_message`) move into the inbox as
finished requests, so a message read again after the upgrade is still recognised; the table goes.
`inbound_request.key` widens to 300 characters, the width those keys had.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = sa.DateTime(timezone=True)
# The channel and kind a Teams message has in the inbox (handlers/microsoft365/inbound.py).
CHANNEL, KIND, PREFIX = "microsoft365", "teams_message", "teams:"


def upgrade() -> None:
    with op.batch_alter_table("inbound_request") as batch_op:
        batch_op.alter_column("key", type_=sa.String(length=300), existing_type=sa.String(length=200))
    op.execute(
        sa.text(
            "INSERT INTO inbound_request (key, channel, kind, payload, state, received_at, attempts, "
            "finished_at) SELECT :prefix || key, :channel, :kind, NULL, 'done', created_at, 1, created_at "
            "FROM graph_processed_message"
        ).bindparams(prefix=PREFIX, channel=CHANNEL, kind=KIND)
    )
    with op.batch_alter_table("graph_processed_message") as batch_op:
        batch_op.drop_index(batch_op.f("ix_graph_processed_message_created_at"))
    op.drop_table("graph_processed_message")


def downgrade() -> None:
    op.create_table(
        "graph_processed_message",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_graph_processed_message")),
    )
    with op.batch_alter_table("graph_processed_message") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_graph_processed_message_created_at"), ["created_at"], unique=False
        )
    op.execute(
        sa.text(
            "INSERT INTO graph_processed_message (key, created_at) "
            "SELECT substr(key, :start), received_at FROM inbound_request "
            "WHERE channel = :channel AND kind = :kind AND state IN ('done', 'failed', 'executed')"
        ).bindparams(start=len(PREFIX) + 1, channel=CHANNEL, kind=KIND)
    )
    op.execute(sa.text("DELETE FROM inbound_request WHERE channel = :channel").bindparams(channel=CHANNEL))
    op.execute(sa.text("DELETE FROM inbound_request WHERE length(key) > 200"))
    with op.batch_alter_table("inbound_request") as batch_op:
        batch_op.alter_column("key", type_=sa.String(length=200), existing_type=sa.String(length=300))
