"""Scratch databases for benchmarks: a SQLite file in a temp folder, or a fresh
PostgreSQL database created beside the one CALLKEEPER_BENCH_PG names and dropped after."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from router.storage.db import Database


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextlib.contextmanager
def postgres_url(pg_url: str, purpose: str) -> Iterator[str]:
    name = f"ck_bench_{purpose}_{os.getpid()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def on_each_backend(
    size: int, pg_url: str | None, purpose: str, bench: Callable[[str, str, int], None]
) -> None:
    """Run `bench(url, backend, size)` on a scratch SQLite file, then on PostgreSQL if given."""
    with sqlite_url() as url:
        bench(url, "sqlite", size)
    if pg_url is None:
        print(f"{purpose} (postgresql): skipped, set CALLKEEPER_BENCH_PG", flush=True)
        return
    with postgres_url(pg_url, purpose) as url:
        bench(url, "postgresql", size)


def analyze(db: Database) -> None:
    """Bring a freshly loaded database to the state autovacuum keeps it in, before measuring.

    Without the statistics PostgreSQL plans the split report's joins for empty
    tables and takes minutes instead of seconds. Without the vacuum,
    autovacuum starts on the million-row tables just loaded (it vacuums
    after inserts too) and competes with the measured calls for the two
    cores: a server that has been running a while is not in that state.
    """
    statement = "VACUUM ANALYZE" if db.backend == "postgresql" else "ANALYZE"
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)
