"""Connections the call path keeps open between its transactions.

Opening a SQLAlchemy `Connection` for each transaction and handing it back to
the pool (with the pool's reset) cost about 70 µs of Python on SQLite, more
than an empty transaction itself, and a call runs two. So the call path
keeps its connections: each serves one transaction at a time, any thread's.

- At most the pool's size are kept idle; the rest of the pool (its overflow)
  stays free for everything else (readiness checks, admin commands), and a
  connection beyond the cap goes back to the pool when its transaction ends.
- A connection is kept only if its transaction ended (committed or rolled
  back) and it is still valid.
- When the engine's pool is renewed (`Engine.dispose`, as after a dropped
  PostgreSQL connection), the idle ones are closed, and those in use are
  closed when their transaction ends, so no call meets a dead connection
  from the old pool.
- `statements` lends one whose every statement is a transaction of its own
  (psycopg's autocommit, set on the driver's connection for that block
  only): no BEGIN and COMMIT round trips, for work whose writes are one
  statement.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import QueuePool

_DEFAULT_KEEP = 5


class HeldConnections:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        pool = engine.pool
        self._keep = pool.size() if isinstance(pool, QueuePool) else _DEFAULT_KEEP
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._generation = 0
        event.listen(engine, "engine_disposed", self._forget)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction, committed if the block ends cleanly."""
        with self._lent() as connection, connection.begin():
            yield connection

    @contextlib.contextmanager
    def statements(self) -> Iterator[Connection]:
        """A psycopg connection on which each statement commits by itself.

        SQLAlchemy's transaction is still begun, for its bookkeeping; psycopg
        sends no BEGIN in autocommit, and nothing at its commit.
        """
        with self._lent() as connection:
            driver = connection.connection.driver_connection
            driver.autocommit = True  # type: ignore[union-attr]
            try:
                with connection.begin():
                    yield connection
            finally:
                if not connection.invalidated:
                    driver.autocommit = False  # type: ignore[union-attr]

    @contextlib.contextmanager
    def _lent(self) -> Iterator[Connection]:
        with self._lock:
            connection = self._idle.pop() if self._idle else None
            generation = self._generation
        if connection is None:
            connection = self._engine.connect()
        try:
            yield connection
        finally:
            self._give_back(connection, generation)

    def _give_back(self, connection: Connection, generation: int) -> None:
        with self._lock:
            keep = (
                generation == self._generation
                and len(self._idle) < self._keep
                and not connection.invalidated
                and not connection.in_transaction()
            )
            if keep:
                self._idle.append(connection)
        if not keep:
            connection.close()

    def _forget(self, _engine: Engine | None = None) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for connection in idle:
            connection.close()

    def close(self) -> None:
        self._forget()
