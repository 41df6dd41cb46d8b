"""name words in household order: the word index also holds the household and which name

Name search reads a typed word's range of the index in order and stops at a
page of households. Ordered by word alone, the households within a word come
in an order each backend picks (rowid in SQLite, heap position in
PostgreSQL), so a stable page needed a sort of every family with that name.
With (word, household_id, name_no) the range is read in the order the page
wants and the index answers alone.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 22:30:00
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_name_words_word_household", "name_words", ["word", "household_id", "name_no"], unique=False
    )
    op.drop_index("ix_name_words_word", table_name="name_words")


def downgrade() -> None:
    op.create_index("ix_name_words_word", "name_words", ["word"], unique=False)
    op.drop_index("ix_name_words_word_household", table_name="name_words")
