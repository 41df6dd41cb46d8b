"""The database itself keeps the ledger append-only, on both backends.

The only change the app makes to a ledger row after writing it is the
household of a first call's decision (from none to the household its answer
created); every other UPDATE, every DELETE (and TRUNCATE on PostgreSQL) is
refused by a trigger, whoever sends it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from router.storage.db import Database
from tests.routing_helpers import NUMBER, center, household
from tests.test_splits import CLOSED, answered

FORBIDDEN = (
    "UPDATE attempts SET talk_seconds = 9999",
    "UPDATE attempts SET status = 'ANSWER'",
    "DELETE FROM attempts",
    "UPDATE decisions SET household_id = 999",
    "UPDATE decisions SET call_uid = 'forged'",
    "DELETE FROM decisions",
    "UPDATE audit SET actor = 'nobody'",
    "DELETE FROM audit",
    "UPDATE household_merges SET into_id = 999",
    "DELETE FROM household_merges",
)


@pytest.fixture
def ledger_with_a_merge(db: Database) -> Database:
    from router.directory import households

    router = center(db)
    kept, merged = household(db, "m1", NUMBER), household(db, "m1", "+79167654321")
    answered(router, "m1", CLOSED - timedelta(days=1))
    with db.unit_of_work() as s:
        households.merge(s, kept, merged, actor="ops")
    return db


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_database_refuses_to_change_or_delete_ledger_rows(
    ledger_with_a_merge: Database, statement: str
) -> None:
    db = ledger_with_a_merge
    table = statement.split()[1] if statement.startswith("UPDATE") else statement.split()[2]
    with db.engine.connect() as c:
        before = c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    assert before > 0
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as c:
        c.execute(text(statement))


def test_the_database_refuses_to_truncate_the_ledger_on_postgresql(ledger_with_a_merge: Database) -> None:
    db = ledger_with_a_merge
    if db.backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    for table in ("attempts", "decisions", "audit", "household_merges"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as c:
            c.execute(text(f"TRUNCATE {table} CASCADE"))


def test_a_first_calls_household_is_the_one_later_write_the_ledger_allows(db: Database) -> None:
    router = center(db)
    answered(router, "m1", CLOSED - timedelta(days=1), number="+79160000001")
    with db.engine.connect() as c:
        noted = c.execute(text("SELECT household_id FROM decisions")).scalar_one()
    assert noted is not None
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as c:
        c.execute(text("UPDATE decisions SET household_id = household_id + 1"))


def test_an_attempt_is_never_deleted_with_its_decision(db: Database) -> None:
    (fk,) = [f for f in inspect(db.engine).get_foreign_keys("attempts") if f["referred_table"] == "decisions"]
    assert (fk.get("options") or {}).get("ondelete") is None
