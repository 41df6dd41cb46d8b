"""bookings: the sales splits divide, stored instead of only read from a CSV

A booking is a household's sale with its reference in its source (unique
per source), an amount in kopecks and a closing time. Its household is a
plain column, as in `audit` and `decisions`, so a merge never deletes it.
The (household_id, closed_at) index serves a household's timeline.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 15:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name="ck_bookings_amount_not_negative"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "ref"),
    )
    op.create_index("ix_bookings_closed_at", "bookings", ["closed_at"], unique=False)
    op.create_index("ix_bookings_household_closed", "bookings", ["household_id", "closed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bookings_household_closed", table_name="bookings")
    op.drop_index("ix_bookings_closed_at", table_name="bookings")
    op.drop_table("bookings")
