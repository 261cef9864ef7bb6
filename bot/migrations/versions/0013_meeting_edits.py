"""What the bot put on each Teams meeting event, so an update changes only that: the digest of the
body text it last sent (`body_digest`: a new time alone sends no body) and the attendee addresses it
added (`attendee_addresses`: attendees the organiser added in Outlook are left alone).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("graph_event") as batch_op:
        batch_op.add_column(sa.Column("body_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("attendee_addresses", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("graph_event") as batch_op:
        batch_op.drop_column("attendee_addresses")
        batch_op.drop_column("body_digest")
