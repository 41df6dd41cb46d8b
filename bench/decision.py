"""A full routing decision at size, and a split report.

The directory is `bench.directory`'s (households of two numbers, 200 agents
in 4 offices); the ledger gets `size` past calls written with bulk Core
inserts. A measured call is what the call front does: the decision (read
the caller's household and the agents, plan, write the decision row with
the claim of the first agent), then, once the agent has answered, the
record of the attempt (which ends the claim, creates the household of a new
caller, updates fairness). The decision is what the caller waits for, so
its latency is timed on its own; the record's is printed beside it, and the
throughput counts whole calls, decision and record (with 8 threads, in
three rounds and their median), and with worker processes as `serve --workers`
runs them: 2 against 1, each of 4 threads. Seven calls in ten come
from known numbers, the rest from new ones. The process is set up as
`callkeeper serve` sets itself up: WAL checkpoints in their own thread, the
start-up heap frozen.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.exc import SQLAlchemyError

from agi.cli import settle_heap
from bench.directory import AGENTS, number_of, populate
from bench.scratch import analyze, on_each_backend
from identity.numbers import normalize
from router.config import Settings
from router.routing.plan import Call, DialOutcome
from router.routing.service import Router
from router.splits import split_report
from router.storage.db import CHECKPOINT_SECONDS, Database
from router.storage.models import Attempt, Decision

CALLS_ONE_THREAD = 5_000
CALLS_PER_THREAD = 1_000
THREADS = 8
# The 8-thread figure moves by a fifth from one run to the next on a shared
# machine: several rounds, and their median, say more than one.
THREADED_ROUNDS = 3
# `serve --workers`: processes sharing the work, each with a few threads (calls in flight).
WORKERS = 2
THREADS_PER_WORKER = 4
CALLS_PER_WORKER_THREAD = 500
BATCH = 20_000
_STATUSES = ("ANSWER",) * 4 + ("NOANSWER",)


def fill_ledger(db: Database, households: int, calls: int) -> None:
    """`calls` past answered-or-missed calls of random households over the last year."""
    rng = random.Random(3)
    now = datetime.now(UTC)
    decision_rows, attempt_rows = [], []
    with db.unit_of_work() as s:
        for i in range(1, calls + 1):
            household = rng.randrange(households)
            at = now - timedelta(seconds=rng.randrange(365 * 86400))
            agent = rng.randrange(1, AGENTS + 1)
            status = rng.choice(_STATUSES)
            decision_rows.append(
                {
                    "id": i,
                    "call_uid": f"past-{i}",
                    "at": at,
                    "number": number_of(2 * household),
                    "line": "+74950000000",
                    "office_id": 1 + agent % 4,
                    "household_id": household + 1,
                    "owner_id": None,
                    "route": "office-pool",
                    "plan": [],
                    "then": "fallback",
                    "decide_ms": 0.5,
                }
            )
            attempt_rows.append(
                {
                    "decision_id": i,
                    "seq": 1,
                    "agent_id": agent,
                    "reason": "office-pool",
                    "started_at": at,
                    "status": status,
                    "ring_seconds": 5.0,
                    "talk_seconds": float(rng.randrange(30, 900)) if status == "ANSWER" else 0.0,
                    "covering_for_id": None,
                }
            )
            if len(decision_rows) == BATCH or i == calls:
                s.execute(insert(Decision), decision_rows)
                s.execute(insert(Attempt), attempt_rows)
                decision_rows, attempt_rows = [], []
        if db.backend == "postgresql":
            s.execute(text("SELECT setval('decisions_id_seq', (SELECT max(id) FROM decisions))"))


def one_call(router: Router, number: str, uid: str) -> tuple[float, float]:
    """Milliseconds of the decision (with its claim and ledger row), and of the record."""
    started = time.perf_counter()
    call = Call(uid=uid, caller=normalize(number), line="+74950000001", at=datetime.now(UTC))
    decision = router.decide(call, claim=1)
    decided = time.perf_counter()
    for seq in decision.claimed:
        router.record(decision.id, seq, DialOutcome("ANSWER", call.at, 3.0, 0.0), decision)
    return (decided - started) * 1000, (time.perf_counter() - decided) * 1000


def _numbers(households: int, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        number_of(2 * rng.randrange(households))
        if rng.random() < 0.7
        else number_of(4 * households + seed * 10_000_000 + n)
        for n in range(count)
    ]


def _stats(label: str, timings: list[tuple[float, float]], seconds: float) -> None:
    decisions = [d for d, _ in timings]
    records = [r for _, r in timings]
    cut, record_cut = statistics.quantiles(decisions, n=100), statistics.quantiles(records, n=100)
    print(
        f"{label}: decision median {statistics.median(decisions):.3f} ms, p99 {cut[98]:.3f} ms; "
        f"{len(timings) / seconds:,.0f} calls/s (decision and record) over {len(timings):,} calls "
        f"(record after the answer: median {statistics.median(records):.3f} ms, p99 {record_cut[98]:.3f} ms)",
        flush=True,
    )


def measure(db: Database, backend: str, households: int) -> None:
    router = Router(db, Settings(db=db.url))
    for n, number in enumerate(_numbers(households, 200, 90)):
        one_call(router, number, f"warm-{n}")
    numbers = _numbers(households, CALLS_ONE_THREAD, 1)
    started = time.perf_counter()
    timings = [one_call(router, number, f"one-{n}") for n, number in enumerate(numbers)]
    _stats(f"decision ({backend}, 1 thread)", timings, time.perf_counter() - started)

    rates = [_threaded_round(router, backend, households, r) for r in range(THREADED_ROUNDS)]
    print(
        f"decision ({backend}, {THREADS} threads): median of {THREADED_ROUNDS} rounds "
        f"{statistics.median(rates):,.0f} calls/s (rounds: {', '.join(f'{r:,.0f}' for r in rates)})",
        flush=True,
    )
    _workers_figure(db.url, backend, households)


def _workers_figure(url: str, backend: str, households: int) -> None:
    """Calls/s of 2 worker processes (`serve --workers 2`) against 1, each with its threads."""
    by_count: dict[int, list[float]] = {1: [], WORKERS: []}
    for round_ in range(THREADED_ROUNDS):
        for count in (1, WORKERS):
            by_count[count].append(_workers_round(url, households, count, round_))
    one, many = statistics.median(by_count[1]), statistics.median(by_count[WORKERS])
    print(
        f"decision ({backend}, worker processes of {THREADS_PER_WORKER} threads): "
        f"1 worker {one:,.0f} calls/s, {WORKERS} workers {many:,.0f} calls/s: {many / one:.2f}x "
        f"(goal >= 1.7x on {os.cpu_count()} cores; medians of {THREADED_ROUNDS} rounds, interleaved)",
        flush=True,
    )


def _workers_round(url: str, households: int, count: int, round_: int) -> float:
    """`count` processes, each placing calls from its threads, started together; returns calls/s."""
    spawn = multiprocessing.get_context("spawn")
    ready, go, done = spawn.Barrier(count + 1), spawn.Event(), spawn.Queue()
    procs = [
        spawn.Process(target=_worker, args=(url, households, 1000 * round_ + 100 * w, ready, go, done))
        for w in range(count)
    ]
    for proc in procs:
        proc.start()
    ready.wait()
    started = time.perf_counter()
    go.set()
    calls = sum(done.get() for _ in procs)
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return calls / elapsed


def _worker(url: str, households: int, seed: int, ready: Any, go: Any, done: Any) -> None:
    """One worker process: its own engine and router, as `serve --workers` starts it."""
    db = Database(url, pool_size=THREADS_PER_WORKER + 2, checkpoint_seconds=CHECKPOINT_SECONDS)
    router = Router(db, Settings(db=db.url))
    for n, number in enumerate(_numbers(households, 50, seed + 99)):
        one_call(router, number, f"w{seed}-warm-{n}")
    settle_heap()
    calls = [0]

    def work(t: int) -> None:
        for n, number in enumerate(_numbers(households, CALLS_PER_WORKER_THREAD, seed + t)):
            try:
                one_call(router, number, f"w{seed}-t{t}-{n}")
                calls[0] += 1
            except SQLAlchemyError:
                pass

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS_PER_WORKER)]
    ready.wait()
    go.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.put(calls[0])
    db.dispose()


def _threaded_round(router: Router, backend: str, households: int, round_: int) -> float:
    """One round of `THREADS` threads each placing `CALLS_PER_THREAD` calls; returns calls/s."""
    results: list[list[tuple[float, float]]] = [[] for _ in range(THREADS)]
    failed: list[str] = []

    def work(t: int) -> None:
        numbers = _numbers(households, CALLS_PER_THREAD, 10 + t + 100 * round_)
        for n, number in enumerate(numbers):
            try:
                results[t].append(one_call(router, number, f"r{round_}-t{t}-{n}"))
            except SQLAlchemyError as exc:  # the call front would fall back to the dialplan
                failed.append(type(exc).__name__)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    timings = [x for r in results for x in r]
    _stats(f"decision ({backend}, {THREADS} threads, round {round_ + 1})", timings, elapsed)
    if failed:
        print(f"  {len(failed)} calls failed: {', '.join(sorted(set(failed)))}", flush=True)
    return len(timings) / elapsed


def measure_splits(db: Database, backend: str, households: int, bookings: int) -> None:
    rng = random.Random(4)
    closed = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bookings.csv"
        with path.open("w") as out:
            out.write("booking,household,amount,closed_at\n")
            for i in range(bookings):
                ref = rng.randrange(1, households + 1)
                out.write(f"B{i},{ref},{rng.randrange(1000, 500000)}.{rng.randrange(100):02d},{closed}\n")
        started = time.perf_counter()
        rows = split_report.read_bookings(path)
        with db.reader() as s:
            results = split_report.report(s, rows, policy="equal", window_days=365, region="RU")
        elapsed = time.perf_counter() - started
    split = sum(1 for r in results if r.error is None)
    print(
        f"splits ({backend}): {bookings:,} bookings in {elapsed:.1f} s "
        f"({split:,} split, {bookings - split:,} marked: no answered call in the window)",
        flush=True,
    )


def _bench(url: str, backend: str, size: int) -> None:
    db = Database(url, pool_size=THREADS + 2)
    try:
        db.ensure_schema()
        started = time.perf_counter()
        populate(db, size)
        fill_ledger(db, size, size)
        analyze(db)
        print(
            f"setup ({backend}): {size:,} households, {AGENTS} agents, {size:,} past calls "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    finally:
        db.dispose()
    db = Database(url, pool_size=THREADS + 2, checkpoint_seconds=CHECKPOINT_SECONDS)
    try:
        settle_heap()
        measure(db, backend, size)
        measure_splits(db, backend, size, max(size // 10, 1))
    finally:
        db.dispose()


def run(size: int, pg_url: str | None) -> None:
    on_each_backend(size, pg_url, "decision", _bench)
