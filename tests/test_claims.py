"""Claims: one free agent is rung by one call at a time, across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from router import claims
from router.config import Settings
from router.db import Database
from router.models import Agent
from router.service import Router
from tests.routing_helpers import center, new_call, outcome, set_state

CALLS = 200
AGENTS = 10


def _take_one(router: Router, number: str) -> str | None:
    """Decide a new call and claim the first agent of its plan that can be had."""
    decision = router.decide(new_call(number))
    for attempt in decision.plan.attempts:
        if router.claim(decision, attempt.seq):
            return attempt.agent
    return None


def _caller(i: int) -> str:
    return f"+7916{i:07d}"


def _claims_in_process(url: str, first: int, count: int) -> list[str | None]:
    db = Database(url)
    try:
        router = Router(db, Settings(db=url))
        return [_take_one(router, _caller(i)) for i in range(first, first + count)]
    finally:
        db.dispose()


def test_claim_is_exclusive_between_two_calls(db: Database) -> None:
    router = center(db, msk=1, spb=0)
    first, second = router.decide(new_call()), router.decide(new_call())
    assert router.claim(first, 1)
    assert not router.claim(second, 1)


def test_claim_of_a_paused_agent_fails(db: Database) -> None:
    router = center(db, msk=1, spb=0)
    decision = router.decide(new_call())
    set_state(db, "m1", "paused")
    assert not router.claim(decision, 1)


def test_expired_claim_is_free_again_by_itself(db: Database) -> None:
    router = center(db, msk=1, spb=0)
    first, second = router.decide(new_call()), router.decide(new_call())
    assert router.claim(first, 1)
    with db.unit_of_work() as s:
        s.execute(update(Agent).values(claim_expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert router.claim(second, 1)


def test_release_drops_only_the_calls_own_claim(db: Database) -> None:
    router = center(db, msk=1, spb=0)
    first, second = router.decide(new_call()), router.decide(new_call())
    assert router.claim(first, 1)
    router.release(second.id, 1)
    assert not router.claim(second, 1)
    router.release(first.id, 1)
    assert router.claim(second, 1)


def test_recording_the_attempt_ends_the_claim(db: Database) -> None:
    router = center(db, msk=1, spb=0)
    first, second = router.decide(new_call()), router.decide(new_call())
    assert router.claim(first, 1)
    router.record(first.id, 1, outcome("NOANSWER"))
    assert router.claim(second, 1)


def test_claimed_agent_is_left_out_of_the_next_plan(db: Database) -> None:
    router = center(db, msk=2, spb=0)
    first = router.decide(new_call())
    assert router.claim(first, 1)
    agents = [a.agent for a in router.decide(new_call()).plan.attempts]
    assert first.plan.attempts[0].agent not in agents


def test_claim_ttl_is_ring_time_plus_margin_capped_by_setting() -> None:
    assert claims.claim_ttl(20, 0, 300) == timedelta(seconds=20 + claims.CLAIM_MARGIN_SECONDS)
    assert claims.claim_ttl(20, 30, 300) == timedelta(seconds=60)
    assert claims.claim_ttl(600, 0, 300) == timedelta(seconds=300)


def test_two_threads_deciding_200_new_calls_never_ring_one_agent_twice(db: Database) -> None:
    router = center(db, msk=AGENTS, spb=0)
    results: list[str | None] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def work(first: int) -> None:
        start.wait()
        for i in range(first, first + CALLS // 2):
            got = _take_one(router, _caller(i))
            with lock:
                results.append(got)

    threads = [threading.Thread(target=work, args=(n * CALLS // 2,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = Counter(a for a in results if a is not None)
    assert len(results) == CALLS
    assert max(taken.values()) == 1
    assert len(taken) == AGENTS


def test_two_processes_deciding_200_new_calls_never_ring_one_agent_twice(
    db: Database, db_url: str, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("several processes share one database only in the PostgreSQL deployment")
    center(db, msk=AGENTS, spb=0)
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        parts = pool.starmap(_claims_in_process, [(db_url, n * CALLS // 2, CALLS // 2) for n in range(2)])
    taken = Counter(a for part in parts for a in part if a is not None)
    assert sum(len(p) for p in parts) == CALLS
    assert max(taken.values()) == 1
    assert len(taken) == AGENTS


def test_a_repeated_call_id_cannot_take_a_claimed_agent(db: Database) -> None:
    router = center(db, msk=1, spb=0)
    call = new_call()
    first, second = router.decide(call), router.decide(call)
    assert router.claim(first, 1)
    assert not router.claim(second, 1)
