"""name words: the folded words of every household's names, so that name search reads an index

Name search folded every name of the directory on each search. The words
(`identity.names.search_keys`: Cyrillic and Latin spellings, case and ё
folded alike) are stored with an index, and filled here for the names
written before; from now on `router.directory.name_index` writes them with
every name.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 18:30:00
"""

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from identity.names import search_keys

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_BATCH = 20_000


def upgrade() -> None:
    name_words = op.create_table(
        "name_words",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("name_no", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_name_words_household_id", "name_words", ["household_id"], unique=False)
    op.create_index("ix_name_words_word", "name_words", ["word"], unique=False)
    connection = op.get_bind()
    households = sa.table("households", sa.column("id", sa.Integer()), sa.column("name", sa.String()))
    members = sa.table(
        "members",
        sa.column("household_id", sa.Integer()),
        sa.column("position", sa.Integer()),
        sa.column("full_name", sa.String()),
    )
    # A batch of households at a time (a million households do not fit in memory as one read).
    after = 0
    while True:
        page = connection.execute(
            sa.select(households.c.id, households.c.name)
            .where(households.c.id > after)
            .order_by(households.c.id)
            .limit(_BATCH)
        ).all()
        if not page:
            return
        first, after = page[0][0], page[-1][0]
        # Name 0 is the household's own, n the member at position n - 1 (as `router.directory.name_index`).
        names = [(row[0], 0, row[1]) for row in page]
        names.extend(
            (row[0], row[1] + 1, row[2])
            for row in connection.execute(
                sa.select(members.c.household_id, members.c.position, members.c.full_name).where(
                    members.c.household_id.between(first, after)
                )
            )
        )
        found = list(_words(names))
        if found:
            connection.execute(sa.insert(name_words), found)


def _words(names: Iterable[tuple[int, int, str]]) -> Iterator[dict[str, Any]]:
    for household_id, name_no, text in names:
        for word in search_keys(text):
            yield {"household_id": household_id, "name_no": name_no, "word": word}


def downgrade() -> None:
    op.drop_index("ix_name_words_word", table_name="name_words")
    op.drop_index("ix_name_words_household_id", table_name="name_words")
    op.drop_table("name_words")
