"""Failure policy of the call front, one test per policy:
the database locked, slow or gone never holds or drops a call."""

from __future__ import annotations

import contextlib
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from agi.app import FrontEnd
from agi.fake.fakepbx import Answer, FakePbx, scripted
from agi.spool import REJECTED_FILE, LedgerSpool
from identity.numbers import normalize
from router.config import Settings
from router.errors import DatabaseUnavailable
from router.routing.service import Call, DialOutcome, Router
from router.storage.db import Database
from router.storage.models import Attempt
from tests.agency import IVANOV_MOBILE
from tests.tcp_proxy import TcpProxy

StartFront = Callable[..., FrontEnd]
DEADLINE_MS = 300
# Far below SQLite's 5 s busy timeout and PostgreSQL's lock wait: a call that
# ends within this waited for the deadline, not for the database.
WELL_UNDER_THE_DATABASE_WAIT = 2.5


@pytest.fixture
def lock_database(db_url: str) -> Iterator[Callable[[], Callable[[], None]]]:
    """Lock the ledger against writers from outside; returns the unlock function."""
    unlocks: list[Callable[[], None]] = []

    def lock() -> Callable[[], None]:
        url = make_url(db_url)
        if url.get_backend_name() == "sqlite":
            conn = sqlite3.connect(str(url.database), isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            unlock = conn.close
        else:
            engine = create_engine(db_url)
            pg = engine.connect()
            pg.execute(text("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE"))

            def unlock() -> None:
                pg.rollback()
                pg.close()
                engine.dispose()

        unlocks.append(unlock)
        return unlock

    yield lock
    for unlock in unlocks:
        with contextlib.suppress(Exception):
            unlock()


def test_database_locked_fails_open_within_deadline_then_routes(
    db: Database,
    agency: dict[str, int],
    start_front: StartFront,
    lock_database: Callable[[], Callable[[], None]],
) -> None:
    front = start_front(decision_deadline_ms=DEADLINE_MS)
    pbx = FakePbx(*front.address, scripted({}, Answer()))
    assert pbx.call(IVANOV_MOBILE, args=["msk"]).status == "ANSWERED"
    unlock = lock_database()
    for _ in range(3):
        started = time.monotonic()
        record = pbx.call(IVANOV_MOBILE, args=["msk"])
        assert record.status == "FAILED"
        assert record.dials == []
        assert time.monotonic() - started < WELL_UNDER_THE_DATABASE_WAIT
    unlock()
    time.sleep(0.1)
    assert pbx.call(IVANOV_MOBILE, args=["msk"]).status == "ANSWERED"


@contextlib.contextmanager
def _front_behind_proxy(db_url: str, tmp_path: Path, **settings: Any) -> Iterator[tuple[FrontEnd, TcpProxy]]:
    """A call front whose PostgreSQL connections go through a proxy the test can cut."""
    url = make_url(db_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    front = FrontEnd(Settings(db=proxied, listen="127.0.0.1:0", spool_dir=str(tmp_path), **settings)).start()
    try:
        yield front, proxy
    finally:
        front.stop(grace=2)
        proxy.close()


def test_database_down_lets_the_call_through(
    backend: str, db_url: str, agency: dict[str, int], tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("a SQLite file cannot go down: the locked-database test covers it")
    with _front_behind_proxy(db_url, tmp_path, metrics="127.0.0.1:0", decision_deadline_ms=DEADLINE_MS) as (
        front,
        proxy,
    ):
        pbx = FakePbx(*front.address, scripted({}, Answer()))
        assert pbx.call(IVANOV_MOBILE, args=["msk"]).status == "ANSWERED"
        assert _http_status(front, "/readyz") == 200
        proxy.cut()
        for _ in range(3):
            started = time.monotonic()
            record = pbx.call(IVANOV_MOBILE, args=["msk"])
            assert record.status == "FAILED"
            assert time.monotonic() - started < WELL_UNDER_THE_DATABASE_WAIT
        assert _http_status(front, "/readyz") == 503
        assert _http_status(front, "/healthz") == 200
        proxy.restore()
        assert _http_status(front, "/readyz") == 200
        assert pbx.call(IVANOV_MOBILE, args=["msk"]).status == "ANSWERED"


def test_postgresql_dropping_its_connections_costs_at_most_one_failed_open_call(
    backend: str, db_url: str, agency: dict[str, int], tmp_path: Path
) -> None:
    """No pre-ping on checkout: a dead pooled connection fails its call, and the pool is renewed."""
    if backend != "postgresql":
        pytest.skip("SQLite has no server to drop connections")
    with _front_behind_proxy(db_url, tmp_path, metrics="off") as (front, proxy):
        pbx = FakePbx(*front.address, scripted({}, Answer()))
        assert pbx.call(IVANOV_MOBILE, args=["msk"]).status == "ANSWERED"
        proxy.cut()  # as a server restart does: every open connection is gone
        proxy.restore()
        statuses = [pbx.call(IVANOV_MOBILE, args=["msk"]).status for _ in range(4)]
        assert statuses.count("FAILED") <= 1
        assert statuses[1:] == ["ANSWERED"] * 3


def test_ledger_write_failure_is_spooled_and_replayed(
    db: Database, agency: dict[str, int], tmp_path: Path
) -> None:
    router = Router(db, Settings(db=db.url))
    decision = router.decide(Call("spool-1", normalize(IVANOV_MOBILE), "msk", datetime.now(UTC)))
    assert router.claim(decision, 1)
    spool = LedgerSpool(tmp_path)
    outcome = DialOutcome("ANSWER", datetime.now(UTC), 4.0, 61.0)
    spool.add(decision.id, 1, outcome)
    spool.add(999_999, 1, outcome)  # a decision the ledger never had: rejected, not retried
    assert len(spool) == 2
    assert spool.replay(router) == 0
    with db.reader() as s:
        attempt = s.scalar(select(Attempt).where(Attempt.decision_id == decision.id))
        assert attempt is not None and attempt.status == "ANSWER" and attempt.talk_seconds == 61.0
    assert (tmp_path / REJECTED_FILE).read_text().count('"decision": 999999') == 1
    assert len(spool) == 0


def _http_status(front: FrontEnd, path: str) -> int:
    assert front.ops is not None
    host, port = front.ops.address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_nested_unit_of_work_fails_instead_of_hanging(backend: str, db: Database) -> None:
    if backend != "sqlite":
        pytest.skip("the in-process writer turn exists for SQLite only")
    started = time.monotonic()
    with db.unit_of_work(), pytest.raises(DatabaseUnavailable), db.unit_of_work():
        pass
    assert time.monotonic() - started < 30
