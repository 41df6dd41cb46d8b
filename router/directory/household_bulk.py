"""Writing a checked CSV import fast: COPY on PostgreSQL, executemany on SQLite.

A million households are four million rows; at that size the ORM's per-row
bookkeeping, and on PostgreSQL even batched INSERTs, cost more than the
database's own work. Both paths run on the caller's connection, inside its
transaction, so an import is still applied whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from router.directory import name_index
from router.directory.household_reads import NumberSpec
from router.storage.models import Household

_BATCH = 20_000
IMPORT_CACHE_KIB = 256 * 1024
_HOUSEHOLD_COLUMNS = ("id", "name", "owner_id", "email", "address", "origin", "created_at", "last_contact_at")


@dataclass(slots=True)
class ImportRow:
    """One checked household of a CSV file; `id` is assigned before writing if empty."""

    id: int | None
    name: str
    owner_id: int | None
    members: list[str]
    numbers: list[NumberSpec]
    email: str
    address: str
    created_at: datetime
    last_contact_at: datetime | None
    line: int = field(default=0)


def write_rows(conn: Connection, rows: list[ImportRow]) -> None:
    """Insert households, members and numbers of `rows`, whose ids are all set."""
    if conn.dialect.name == "postgresql":
        _copy(conn, rows)
    else:
        _insert(conn, rows)


def _household(r: ImportRow) -> tuple[Any, ...]:
    return (r.id, r.name, r.owner_id, r.email, r.address, "import", r.created_at, r.last_contact_at)


def _copy(conn: Connection, rows: list[ImportRow]) -> None:
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY households ({', '.join(_HOUSEHOLD_COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(_household(r))
        with cursor.copy("COPY members (household_id, position, full_name) FROM STDIN") as copy:
            for r in rows:
                for i, member in enumerate(r.members):
                    copy.write_row((r.id, i, member))
        with cursor.copy("COPY numbers (household_id, number, label) FROM STDIN") as copy:
            for r in rows:
                for n in r.numbers:
                    copy.write_row((r.id, n.number, n.label))
        with cursor.copy("COPY name_words (household_id, name_no, word) FROM STDIN") as copy:
            for word in _name_words(rows):
                copy.write_row(word)
    # Explicit ids leave the sequence behind; the next `household add` must not collide.
    conn.execute(
        select(
            func.setval(
                func.pg_get_serial_sequence("households", "id"),
                select(func.max(Household.id)).scalar_subquery(),
            )
        )
    )


def _insert(conn: Connection, rows: list[ImportRow]) -> None:
    # A two-million-entry unique index on numbers, filled in random order,
    # thrashes SQLite's default 2 MB page cache; give this connection more
    # while it imports.
    previous = int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or -2000)
    conn.exec_driver_sql(f"PRAGMA cache_size={-IMPORT_CACHE_KIB}")
    try:
        for batch in _batches(rows):
            conn.execute(
                insert(Household),
                [dict(zip(_HOUSEHOLD_COLUMNS, _household(r), strict=True)) for r in batch],
            )
            # Plain values, no type processing needed: straight to the driver.
            members = [(r.id, i, m) for r in batch for i, m in enumerate(r.members)]
            if members:
                conn.exec_driver_sql(
                    "INSERT INTO members (household_id, position, full_name) VALUES (?, ?, ?)", members
                )
            numbers = [(r.id, n.number, n.label) for r in batch for n in r.numbers]
            if numbers:
                conn.exec_driver_sql(
                    "INSERT INTO numbers (household_id, number, label) VALUES (?, ?, ?)", numbers
                )
            words = list(_name_words(batch))
            if words:
                conn.exec_driver_sql(
                    "INSERT INTO name_words (household_id, name_no, word) VALUES (?, ?, ?)", words
                )
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={previous}")


def _name_words(rows: list[ImportRow]) -> Iterator[tuple[int | None, int, str]]:
    """The name index's rows (`router.directory.name_index`) of the households imported."""
    for r in rows:
        for name_no, word in name_index.words(r.name, r.members):
            yield (r.id, name_no, word)


def _batches(rows: list[ImportRow]) -> Iterator[list[ImportRow]]:
    for start in range(0, len(rows), _BATCH):
        yield rows[start : start + _BATCH]
