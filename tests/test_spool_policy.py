"""The ledger spool: a transient error retries, a record refused for good goes
aside alone with its reason, and nothing valid is ever thrown away."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from sqlalchemy import select

from agi.app import FrontEnd
from agi.spool import REJECTED_FILE, LedgerSpool
from identity.numbers import normalize
from router.config import Settings
from router.routing.service import Call, DialOutcome, Router
from router.storage.db import Database
from router.storage.models import Attempt
from tests.agency import IVANOV_MOBILE, PETROV_MOBILE
from tests.test_failopen import lock_database  # noqa: F401  (a fixture)

OVERFLOW = 99_999_999.0  # ANSWEREDTIME=99999999: more than the column's 10 digits with 3 decimals hold


def _claimed_decisions(router: Router, n: int) -> list[int]:
    ids = []
    for i, number in enumerate([IVANOV_MOBILE, PETROV_MOBILE, IVANOV_MOBILE, PETROV_MOBILE][:n]):
        decision = router.decide(Call(f"spool-{i}", normalize(number), "msk", datetime.now(UTC)), claim=1)
        assert decision.claimed
        ids.append(decision.id)
    return ids


def _recorded(db: Database) -> list[tuple[int, str]]:
    with db.reader() as s:
        return [(a.decision_id, a.status) for a in s.scalars(select(Attempt).order_by(Attempt.decision_id))]


def test_a_record_refused_for_good_goes_aside_alone_and_never_blocks_later_records(
    db: Database, agency: dict[str, int], tmp_path: Path
) -> None:
    router = Router(db, Settings(db=db.url))
    first, second = _claimed_decisions(router, 2)
    spool = LedgerSpool(tmp_path)
    now = datetime.now(UTC)
    refused_for_good = [(999_999, DialOutcome("ANSWER", now, 4.0, 61.0))]
    if db.backend == "postgresql":  # SQLite stores any number: only PostgreSQL's column overflows
        refused_for_good.append((first, DialOutcome("ANSWER", now, 4.0, OVERFLOW)))
    for decision_id, outcome in refused_for_good:
        spool.add(decision_id, 1, outcome)
    spool.add(second, 1, DialOutcome("ANSWER", now, 4.0, 61.0))
    if db.backend == "sqlite":
        spool.add(first, 1, DialOutcome("NOANSWER", now, 20.0, 0.0))
    assert spool.replay(router) == 0
    rejected = [json.loads(line) for line in (tmp_path / REJECTED_FILE).read_text().splitlines()]
    assert len(rejected) == len(refused_for_good) == spool.rejected
    assert all(r["reason"] for r in rejected)
    assert (second, "ANSWER") in _recorded(db)


def test_a_busy_database_keeps_spooled_records_for_the_next_round(
    db: Database,
    agency: dict[str, int],
    tmp_path: Path,
    lock_database: Callable[[], Callable[[], None]],  # noqa: F811
) -> None:
    if db.backend != "sqlite":
        pytest.skip("PostgreSQL waits for a lock rather than failing; the busy error is SQLite's")
    router = Router(db, Settings(db=db.url))
    ids = _claimed_decisions(router, 4)
    spool = LedgerSpool(tmp_path)
    for decision_id in ids:
        spool.add(decision_id, 1, DialOutcome("ANSWER", datetime.now(UTC), 4.0, 61.0))
    unlock = lock_database()
    assert spool.replay(router) == 4
    unlock()
    assert not (tmp_path / REJECTED_FILE).exists() and spool.rejected == 0
    assert spool.replay(router) == 0
    assert _recorded(db) == [(i, "ANSWER") for i in ids]


def test_the_spool_metrics_say_how_many_wait_and_how_many_were_rejected(
    db: Database, agency: dict[str, int], start_front: Callable[..., FrontEnd]
) -> None:
    front = start_front()
    router = front.router
    (waiting,) = _claimed_decisions(router, 1)
    front.spool.add(999_998, 1, DialOutcome("ANSWER", datetime.now(UTC), 4.0, 61.0))
    front.spool.add(999_999, 1, DialOutcome("ANSWER", datetime.now(UTC), 4.0, 61.0))
    front.housekeeping()
    assert front.metrics is not None
    scraped = generate_latest(front.metrics.registry).decode()
    assert "callkeeper_ledger_spool_rejected_total 2.0" in scraped
    assert "callkeeper_ledger_spooled 0.0" in scraped
    assert waiting
