"""Microsoft 365 as it really behaves: a stored sign-in problem says whether it is transient (the bot
retries by itself) or the login is gone (`teams login`); a meeting event keeps Exchange's `iCalUId`,
so the reminder's `.ics` names the same calendar entry as the Exchange invitation.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("graph_login") as batch_op:
        batch_op.add_column(
            sa.Column("problem_transient", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("graph_event") as batch_op:
        batch_op.add_column(sa.Column("ical_uid", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("graph_event") as batch_op:
        batch_op.drop_column("ical_uid")
    with op.batch_alter_table("graph_login") as batch_op:
        batch_op.drop_column("problem_transient")
