"""co-owners: a household's owners besides the first, and whether they ring in order or together

The mode is kept on the co-owners' rows: a household without co-owners has
none, and `households` itself is left as it was.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "household_owners",
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("household_id", "agent_id"),
    )


def downgrade() -> None:
    op.drop_table("household_owners")
