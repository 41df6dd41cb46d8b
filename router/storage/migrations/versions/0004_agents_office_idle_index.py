"""ix_agents_office_idle: an office's available agents in longest-idle order

The pool of free agents is read on every call. Ranked by sorting, it read
and sorted every agent of the line's office; with this index (the office,
the state, then the longest-idle order) it reads the first few in order and
stops. The index leads with office_id, so it also takes over from
ix_agents_office_id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_office_idle",
            ["office_id", "state", sa.text("coalesce(last_call_ended_at, state_changed_at)"), "login"],
            unique=False,
        )
        batch_op.drop_index(batch_op.f("ix_agents_office_id"))


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_office_id"), ["office_id"], unique=False)
        batch_op.drop_index("ix_agents_office_idle")
