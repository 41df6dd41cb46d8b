"""drop ix_attempts_decision_id: the unique (decision_id, seq) key already leads with it

Every recorded attempt paid for a second b-tree insert that no query needed:
lookups by decision id use the unique key's index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 05:40:00.000000
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempts_decision_id"))


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempts_decision_id"), ["decision_id"], unique=False)
