"""What a supervisor waits for: a household's timeline, and the agents board.

The directory is `bench.directory`'s with 500 agents in 4 offices and `size`
households; the ledger gets `size` past calls of random households over the
last year (`bench.decision.fill_ledger`), then `TODAY_CALLS` calls decided
today by owned households (the board's day), then the household under
study: `TIMELINE_CALLS` calls over the last 90 days, each its owner's missed
ring and a colleague's answer covering for the owner, with audit rows and
`TIMELINE_BOOKINGS` stored bookings, one of them overridden. Timed through
one open database, each read in its own session as a command or a page
would: the timeline (calls, audit, bookings and their splits) and the board
of every agent, printing p50 and p99.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text

from bench.decision import fill_ledger
from bench.directory import populate
from bench.scratch import analyze, on_each_backend
from router.routing import agent_board
from router.splits import bookings, split_report, timeline
from router.storage.db import Database
from router.storage.models import Agent, Attempt, AuditEntry, Decision, Household

AGENTS = 500
TODAY_CALLS = 20_000
TIMELINE_CALLS = 1_000
TIMELINE_BOOKINGS = 20
ROUNDS_TIMELINE = 100
ROUNDS_BOARD = 200
BATCH = 20_000
MOSCOW = ZoneInfo("Europe/Moscow")


def _next_decision_id(db: Database) -> int:
    with db.reader() as s:
        return int(s.scalar(select(func.coalesce(func.max(Decision.id), 0))) or 0) + 1


def fill_today(db: Database, households: int, calls: int) -> None:
    """`calls` calls decided today, each from an owned household: a third found the owner away."""
    rng = random.Random(5)
    now = datetime.now(UTC)
    first = _next_decision_id(db)
    decisions: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    with db.unit_of_work() as s:
        for n in range(calls):
            i = first + n
            at = now - timedelta(seconds=rng.randrange(0, 8 * 3600))
            owner = rng.randrange(1, AGENTS + 1)
            free = rng.random() < 0.67
            decisions.append(_decision(i, f"today-{i}", at, rng.randrange(1, households + 1), owner, free))
            if free:
                attempts.append(_attempt(i, 1, owner, at, "ANSWER" if rng.random() < 0.8 else "NOANSWER"))
            other = rng.randrange(1, AGENTS + 1)
            attempts.append(_attempt(i, 2, other, at + timedelta(seconds=20), "ANSWER", covering=owner))
            if len(decisions) >= BATCH or n == calls - 1:
                s.execute(insert(Decision), decisions)
                s.execute(insert(Attempt), attempts)
                decisions, attempts = [], []
        _reset_sequence(db, s)


def fill_household(db: Database, household: int) -> None:
    """The household under study: its calls, audit rows and bookings, one overridden."""
    rng = random.Random(6)
    now = datetime.now(UTC)
    first = _next_decision_id(db)
    with db.unit_of_work() as s:
        owner = s.scalar(select(Household.owner_id).where(Household.id == household)) or 1
        decisions, attempts = [], []
        for n in range(TIMELINE_CALLS):
            i = first + n
            at = now - timedelta(seconds=rng.randrange(90 * 86400))
            decisions.append(_decision(i, f"studied-{i}", at, household, owner, True))
            attempts.append(_attempt(i, 1, owner, at, "NOANSWER"))
            colleague = 1 + (owner + rng.randrange(1, 4)) % AGENTS
            attempts.append(_attempt(i, 2, colleague, at + timedelta(seconds=20), "ANSWER", covering=owner))
        s.execute(insert(Decision), decisions)
        s.execute(insert(Attempt), attempts)
        _reset_sequence(db, s)
        s.execute(
            insert(AuditEntry),
            [
                {
                    "at": now - timedelta(days=d),
                    "action": "link",
                    "household_id": household,
                    "subject": f"+7916000{d:04d}",
                    "before": "",
                    "after": "",
                    "reason": "",
                    "actor": "bench",
                }
                for d in range(50)
            ],
        )
        for n in range(TIMELINE_BOOKINGS):
            bookings.add_booking(
                s,
                household,
                ref=f"study-{n}",
                amount=rng.randrange(10_000, 50_000_000),
                closed_at=now - timedelta(days=rng.randrange(60)),
                actor="bench",
            )
        logins = list(s.scalars(select(Agent.login).order_by(Agent.id).limit(2)))
        split_report.save_override(
            s,
            "study-0",
            {logins[0]: Decimal(60), logins[1]: Decimal(40)},
            reason="bench",
            actor="bench",
            region="RU",
        )


def _decision(i: int, uid: str, at: datetime, household: int, owner: int, free: bool) -> dict[str, Any]:
    return {
        "id": i,
        "call_uid": uid,
        "at": at,
        "number": "",
        "line": "+74950000000",
        "office_id": 1,
        "household_id": household,
        "owner_id": owner,
        "route": "owner" if free else "office-pool",
        "plan": [],
        "then": "fallback",
        "decide_ms": 0.5,
    }


def _attempt(
    decision: int, seq: int, agent: int, at: datetime, status: str, covering: int | None = None
) -> dict[str, Any]:
    return {
        "decision_id": decision,
        "seq": seq,
        "agent_id": agent,
        "reason": "owner" if seq == 1 else "office-pool",
        "started_at": at,
        "status": status,
        "ring_seconds": 5.0,
        "talk_seconds": 120.0 if status == "ANSWER" else 0.0,
        "covering_for_id": covering,
    }


def _reset_sequence(db: Database, session: Any) -> None:
    if db.backend == "postgresql":
        session.execute(text("SELECT setval('decisions_id_seq', (SELECT max(id) FROM decisions))"))


def _timed(rounds: int, work: Callable[[], int]) -> tuple[str, int]:
    """p50 and p99 of `rounds` runs of `work`, with this process's CPU and the load; what work returned.

    The machine is shared: the CPU time per run (this process only, not the
    PostgreSQL server's) and the load average say how much of the wall
    time was this code's.
    """
    work()
    timings, result = [], 0
    cpu = time.process_time()
    for _ in range(rounds):
        started = time.perf_counter()
        result = work()
        timings.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / rounds
    p50, p99 = statistics.median(timings), statistics.quantiles(timings, n=100)[98]
    load = os.getloadavg()[0]
    cost = f"client CPU {cpu_ms:.1f} ms per read, load {load:.1f}"
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({cost})", result


def measure(db: Database, backend: str, household: int) -> None:
    def read_timeline() -> int:
        with db.reader() as s:
            return len(timeline.timeline(s, household, region="RU").events)

    def read_board() -> int:
        with db.reader() as s:
            return len(agent_board.board(s, now=datetime.now(UTC), zone=MOSCOW))

    figures, events = _timed(ROUNDS_TIMELINE, read_timeline)
    print(f"timeline ({backend}): {events:,} events ({TIMELINE_CALLS:,} calls): {figures}", flush=True)
    figures, agents = _timed(ROUNDS_BOARD, read_board)
    print(f"agents board ({backend}): {agents} agents, {TODAY_CALLS:,} calls today: {figures}", flush=True)


def _bench(url: str, backend: str, size: int) -> None:
    db = Database(url)
    try:
        db.ensure_schema()
        started = time.perf_counter()
        populate(db, size, agents=AGENTS)
        fill_ledger(db, size, size)
        fill_today(db, size, TODAY_CALLS)
        household = 1
        fill_household(db, household)
        analyze(db)
        with db.reader() as s:
            attempts = s.scalar(select(func.count()).select_from(Attempt))
        print(
            f"setup ({backend}): {size:,} households, {AGENTS} agents, {attempts:,} attempts "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        measure(db, backend, household)
    finally:
        db.dispose()


def run(size: int, pg_url: str | None) -> None:
    on_each_backend(size, pg_url, "evidence", _bench)
