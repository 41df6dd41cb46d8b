"""decisions.answered_by_id goes: who answered is the call's ANSWER attempt

Every answered call updated its decision row to repeat what its attempt row
already says, an extra write (and, on PostgreSQL, often a new version of the
row in every index of decisions) on the path of each call. The ledger and
the reports now read it from the attempts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 06:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("answered_by_id")


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_decisions_answered_by_id_agents", "agents", ["answered_by_id"], ["id"], ondelete="SET NULL"
        )
    # Filled in again from the attempts, as the column was kept before.
    op.execute(
        "UPDATE decisions SET answered_by_id = (SELECT attempts.agent_id FROM attempts"
        " WHERE attempts.decision_id = decisions.id AND attempts.status = 'ANSWER')"
    )
