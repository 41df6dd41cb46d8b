"""suggestion rejections: a pair of households a person said are not one family

The console's suggestions queue offers a pair once; a rejection is kept so
that the same pair is never offered again.

Revision ID: 0020
Revises: 0012
Create Date: 2026-12-05 16:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suggestion_rejections",
        sa.Column("first_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("second_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint("first_id < second_id", name="ck_suggestion_rejections_ordered"),
        sa.PrimaryKeyConstraint("first_id", "second_id"),
    )


def downgrade() -> None:
    op.drop_table("suggestion_rejections")
