"""ix_agents_office_id again, for ix_agents_office_idle: every call's update of an agent stays HOT

Revision 0004 put each agent's longest-idle order in an index, so the
line's office was read in order instead of sorted. But the order is when the
agent's last call ended, which every answered call changes: that update
could no longer be a HOT update (PostgreSQL writes a new entry in every
index of the table for it), and until the next vacuum each read of the pool
stepped over the dead entries of agents' earlier calls. Under a sustained
load that cost more than the sort it saved (see the README's benchmarks).
Sorting the few agents of one office is cheap; the agents' indexes now
hold only columns a call never changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 11:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_office_id"), ["office_id"], unique=False)
        batch_op.drop_index("ix_agents_office_idle")


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agents_office_idle",
            ["office_id", "state", sa.text("coalesce(last_call_ended_at, state_changed_at)"), "login"],
            unique=False,
        )
        batch_op.drop_index(batch_op.f("ix_agents_office_id"))
