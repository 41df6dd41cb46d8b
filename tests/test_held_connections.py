"""The call path's connections stay open between transactions, and only while they are sound."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.pool import QueuePool

from router.storage.db import READ_ONLY_OPTION, Database
from router.storage.held_connections import HeldConnections
from router.storage.models import Office


def _driver(connection: object) -> object:
    return connection.connection.driver_connection  # type: ignore[attr-defined]


def _offices(db: Database) -> int:
    with db.reader() as s:
        return s.scalar(select(func.count()).select_from(Office)) or 0


def test_one_connection_serves_transaction_after_transaction(db: Database) -> None:
    with db.transaction() as first:
        held = _driver(first)
    with db.transaction() as second:
        assert _driver(second) is held


def test_a_failed_transaction_is_rolled_back_and_its_connection_kept(db: Database) -> None:
    with db.transaction() as connection:
        held = _driver(connection)
    with pytest.raises(RuntimeError), db.transaction() as connection:
        connection.execute(insert(Office).values(code="tmp"))
        raise RuntimeError("the call went away")
    assert _offices(db) == 0
    with db.transaction() as connection:
        assert _driver(connection) is held
        connection.execute(insert(Office).values(code="kept"))
    assert _offices(db) == 1


def test_a_renewed_pool_retires_the_held_connections(db: Database) -> None:
    with db.transaction() as connection:
        idle = _driver(connection)
    with db.transaction() as connection:
        in_use = _driver(connection)
        db.engine.dispose()  # as after PostgreSQL dropped a connection
    with db.transaction() as connection:
        fresh = _driver(connection)
    assert fresh is not idle and fresh is not in_use


def test_no_more_than_the_pool_size_are_held_idle(db: Database) -> None:
    # Read-only connections, so SQLite lets them all be in a transaction at once.
    engine = db.engine.execution_options(**{READ_ONLY_OPTION: True})
    held = HeldConnections(engine)
    pool = db.engine.pool
    assert isinstance(pool, QueuePool)
    with contextlib.ExitStack() as stack:
        for _ in range(pool.size() + 2):
            stack.enter_context(held.transaction())
        assert pool.checkedout() == pool.size() + 2
    assert pool.checkedout() == pool.size()
    held.close()
    assert pool.checkedout() == 0


def test_statements_on_postgresql_commit_one_by_one_and_atomically_groups_them(
    db: Database, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("on SQLite `statements` is one transaction, as `transaction` is")
    with db.statements() as connection:
        held = _driver(connection)
        connection.execute(insert(Office).values(code="first"))
        assert _offices(db) == 1  # another connection sees it: committed already
        with pytest.raises(RuntimeError), db.atomically(connection):
            connection.execute(insert(Office).values(code="second"))
            raise RuntimeError("a write of several that fails half way")
        assert _offices(db) == 1  # the atomic block was rolled back whole
    with db.transaction() as connection:
        assert _driver(connection) is held  # the same connection, back in transactions
        connection.execute(insert(Office).values(code="third"))
        assert _offices(db) == 1  # not committed until the block ends
    assert _offices(db) == 2


def test_statements_on_sqlite_are_one_transaction(db: Database, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("on PostgreSQL each statement of `statements` commits by itself")
    with pytest.raises(RuntimeError), db.statements() as connection:
        connection.execute(insert(Office).values(code="first"))
        raise RuntimeError("the call went away")
    assert _offices(db) == 0
