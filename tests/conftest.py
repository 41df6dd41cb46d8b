"""Fixtures: a fresh real database per test, on SQLite always and on PostgreSQL
when CALLKEEPER_TEST_PG holds a URL (e.g. postgresql+psycopg://u:p@127.0.0.1/db).

Every test that takes `db` or `db_url` runs once per backend. The summary at
the end says how many passed on each.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from agi.app import FrontEnd
from router.config import Settings
from router.storage.db import Database

PG_ENV = "CALLKEEPER_TEST_PG"
BACKENDS = ("sqlite", "postgresql")
_counter = itertools.count()
_passed: Counter[str] = Counter()


def pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    database.ensure_schema()
    database.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    admin = pg_admin_url()
    if admin is None:
        yield None
        return
    name = f"ck_template_{os.getpid()}"
    _pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    database = Database(_pg_url(admin, name))
    database.ensure_schema()
    database.dispose()
    yield name
    _pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and pg_admin_url() is None:
        pytest.skip(f"PostgreSQL: set {PG_ENV} to run")
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None) -> Iterator[str]:
    """The URL of a fresh, migrated, empty database of `backend`."""
    if backend == "sqlite":
        path = tmp_path / "callkeeper.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    admin = pg_admin_url()
    assert admin is not None and pg_template is not None
    name = f"ck_test_{os.getpid()}_{next(_counter)}"
    _pg_execute(admin, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield _pg_url(admin, name)
    _pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.ensure_schema()
    yield database
    database.dispose()


def _pg_url(admin: str, name: str) -> str:
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def _pg_execute(admin: str, *statements: str) -> None:
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        backend = next(
            (b for b in BACKENDS if f"[{b}" in report.nodeid or f"-{b}" in report.nodeid), "no database"
        )
        _passed[backend] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_sep("-", "tests passed per backend")
    for backend in (*BACKENDS, "no database"):
        terminalreporter.write_line(f"{backend}: {_passed[backend]}")


@pytest.fixture
def agency(db: Database) -> dict[str, int]:
    """The small agency of tests/agency.py in a fresh database."""
    from tests.agency import seed

    return seed(db)


@pytest.fixture
def start_front(db_url: str, tmp_path: Path) -> Iterator[Callable[..., FrontEnd]]:
    """Start the real FastAGI server (and its metrics endpoint) on free loopback ports."""
    started: list[FrontEnd] = []

    def start(**settings: Any) -> FrontEnd:
        values = {
            "db": db_url,
            "listen": "127.0.0.1:0",
            "metrics": "127.0.0.1:0",
            "spool_dir": str(tmp_path / "spool"),
            **settings,
        }
        front = FrontEnd(Settings(**values)).start()
        started.append(front)
        return front

    yield start
    for front in started:
        front.stop(grace=2)


@pytest.fixture(scope="session")
def asterisk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real Asterisk for the whole run, from the tarball unpacked once; stopped at the end."""
    from tests import real_asterisk

    if real_asterisk.tarball() is None:
        pytest.skip(
            f"real Asterisk: no tarball in {real_asterisk.shared_dir() / 'dist'} "
            f"(set {real_asterisk.SHARED_ENV} to the folder holding dist/ and run-asterisk)"
        )
    work = tmp_path_factory.mktemp("asterisk")
    unpacked = real_asterisk.unpack(work / "tree")
    server = real_asterisk.RealAsterisk(unpacked, work).start()
    rundir = server.rundir
    try:
        yield server
    finally:
        server.stop()
        real_asterisk.remove(rundir)


@pytest.fixture
def real_asterisk(asterisk_server: Any) -> Iterator[Any]:
    """The run's real Asterisk, its test AstDB and Callkeeper globals cleared for this test."""
    asterisk_server.reset()
    yield asterisk_server
    asterisk_server.idle(30)
