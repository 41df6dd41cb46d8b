"""Claims: one free agent is rung by one call at a time, across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from agi.callflow import Decider
from router.config import Settings
from router.directory import offices
from router.routing import claims
from router.routing.service import Call, Decision, Router
from router.storage.db import Database
from router.storage.models import Agent
from router.storage.models import Decision as DecisionRow
from tests.routing_helpers import NUMBER, center, household, new_call, outcome, set_state

CALLS = 200
AGENTS = 10


def _take_one(router: Router, number: str) -> str | None:
    """As the call front does: decide claiming the first agent, else claim down the plan."""
    decision = router.decide(new_call(number), claim=1)
    if decision.claimed:
        return _agent(decision, decision.claimed[0])
    for attempt in decision.plan.attempts:
        if router.claim(decision, attempt.seq):
            return attempt.agent
    return None


def _agent(decision: Decision, seq: int) -> str:
    planned = decision.plan.attempt(seq)
    assert planned is not None
    return planned.agent


def _claimed_by(db: Database) -> dict[str, str]:
    with db.reader() as s:
        held = s.execute(select(Agent.login, Agent.claimed_by).where(Agent.claimed_by.is_not(None)))
        return {login: uid for login, uid in held}


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


def test_an_agent_another_call_is_claiming_right_now_is_passed_over_not_waited_for(
    db: Database, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no row lock to wait on")
    router = center(db, msk=1, spb=0)
    first, second = router.decide(new_call()), router.decide(new_call())
    now = datetime.now(UTC)
    with db.engine.connect() as elsewhere, elsewhere.begin():
        # Another call's transaction has claimed m1 and not committed yet.
        assert claims.claim(elsewhere, "m1", first.call.uid, now, timedelta(seconds=30))
        with db.engine.connect() as ours, ours.begin():
            ours.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would fail here
            assert not claims.claim(ours, "m1", second.call.uid, now, timedelta(seconds=30))
    assert _claimed_by(db) == {"m1": first.call.uid}


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


def test_decide_claims_the_first_agent_in_the_same_transaction(db: Database) -> None:
    router = center(db, msk=2, spb=0)
    decision = router.decide(new_call(), claim=1)
    assert decision.claimed == (1,)
    first = _agent(decision, 1)
    assert _claimed_by(db) == {first: decision.call.uid}
    assert not router.claim(decision, 1)  # already this call's: a second claim cannot win it
    assert [a.agent for a in router.decide(new_call()).plan.attempts] == ["m2" if first == "m1" else "m1"]


def test_decide_claims_every_advised_target_up_to_the_number_asked(db: Database) -> None:
    router = center(db, msk=3, spb=1)
    decision = router.decide(new_call(), claim=3)
    assert decision.claimed == (1, 2, 3)
    assert set(_claimed_by(db)) == {_agent(decision, seq) for seq in (1, 2, 3)}


def test_decide_passes_over_an_agent_it_cannot_claim(db: Database) -> None:
    router = center(db, msk=2, spb=0)
    decision = router.decide(new_call())
    taken = router.decide(new_call(), claim=0)
    # Another node takes the first agent of `decision`'s plan between its read and its claim.
    assert router.claim(taken, next(a.seq for a in taken.plan.attempts if a.agent == _agent(decision, 1)))
    with db.transaction() as connection:
        won = router._claim_first(connection, decision.call, decision.plan, 1, True)
    assert won == (2,)


class _Overtaken(Router):
    """A real router overtaken by another node, which claims the plan's first agent before our write."""

    rival: Decision | None = None

    def _plan(self, *args: Any) -> Any:
        subject, office, plan = super()._plan(*args)
        other_node = Router(self.db, self.settings)
        self.rival = other_node.decide(new_call("+79035550000"), claim=0)
        assert other_node.claim(
            self.rival, next(a.seq for a in self.rival.plan.attempts if a.agent == plan.attempts[0].agent)
        )
        return subject, office, plan


def test_decision_whose_first_agent_is_taken_meanwhile_is_written_and_claims_the_next(
    db: Database, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite decides in one write transaction: no other writer comes between")
    router = center(db, msk=2, spb=0)
    overtaken = _Overtaken(db, router.settings)
    decision = overtaken.decide(new_call(), claim=1)
    assert decision.claimed == (2,)  # the first agent's claim (written with the decision) was lost
    assert overtaken.rival is not None
    assert _claimed_by(db) == {
        _agent(decision, 1): overtaken.rival.call.uid,
        _agent(decision, 2): decision.call.uid,
    }
    assert router.record(decision.id, 2, outcome("ANSWER")).agent == _agent(decision, 2)


def test_decide_stops_claiming_at_a_busy_owner_the_plan_waits_for(db: Database) -> None:
    router = center(db, msk=3, spb=0)
    household(db, "m2", NUMBER)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", owner_policy="wait", owner_wait=40)
    other = router.decide(new_call("+79035550000"))
    assert router.claim(other, next(a.seq for a in other.plan.attempts if a.agent == "m2"))
    waiting = router.decide(new_call(), claim=1)
    assert (_agent(waiting, 1), waiting.plan.attempts[0].wait_seconds) == ("m2", 40)
    assert waiting.claimed == ()  # dial mode waits for m2 and holds nobody meanwhile
    advised = router.decide(new_call(), claim=2, wait_for_owner=False)
    assert [_agent(advised, seq) for seq in advised.claimed] == ["m1", "m3"]


class _QueuedRouter(Router):
    """A real router whose decisions start only after the call front stopped waiting."""

    def decide(self, call: Call, **options: Any) -> Decision:
        time.sleep(0.3)  # as if queued behind other decisions
        return super().decide(call, **options)


class _SlowRouter(Router):
    """A real router that takes too long between its reads and its write."""

    def _plan(self, *args: Any) -> Any:
        planned = super()._plan(*args)
        time.sleep(0.3)  # as if the database were slow to answer
        return planned


@pytest.mark.parametrize("late", [_QueuedRouter, _SlowRouter], ids=["queued", "slow"])
def test_a_decision_after_its_deadline_writes_nothing_and_claims_nobody(
    db: Database, late: type[Router]
) -> None:
    router = center(db, msk=2, spb=0)
    decider = Decider(late(db, router.settings), deadline_ms=50, workers=1)
    try:
        with pytest.raises(FutureTimeout):
            decider.decide(new_call(), 1, True)
    finally:
        decider.shutdown(wait=True)  # the late decision runs to its end
    assert _decisions(db) == 0  # the call went to the queue: no decision of ours in the ledger
    assert _claimed_by(db) == {}  # and nobody held for it
    assert router.decide(new_call(), claim=1).claimed == (1,)  # the next call routes as usual


def _decisions(db: Database) -> int:
    with db.reader() as s:
        return s.scalar(select(func.count()).select_from(DecisionRow)) or 0
