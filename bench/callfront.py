"""The call front through the real server and the fake Asterisk on loopback.

With a directory of `size` households: the time from connect to the first
`EXEC Dial` (what a caller waits for routing) at 1, 8 and 64 calls in flight,
routed calls per second in dial and advise mode, and advise-mode throughput
with metrics on versus off. Callers: 70 % known numbers, 30 % new ones.

An advised call runs the shipped dialplan (`agi.fake.fakedialplan`): the route
session, the dialplan's Dial of the first target (who answers), the session
Dial's U() makes at the answer to free the other targets, and the outcome
session that records the attempt (both counted as outcome sessions). Without the
outcome sessions every agent would stay claimed after the first few dozen
calls and the rest would be advised to nobody: cheap calls, and no measure
of a real one.

"In flight" is what it is on a PBX: that many calls up at once, each ringing
and talking to its agent (2-15 s of ringing and 10-50 s of talk on the
fake's clock, at random, run at 1/50 speed: 0.8 s on average) while new
ones arrive as calls end, at random moments rather than in waves; the
first calls of such a run are spread over one mean call for the same reason.
Back-to-back calls with no talk at all are a different figure, the server's
ceiling: it is printed as the overload line, with the calls that failed open
because the deadline passed while they queued.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import tempfile
import time

from agi.app import FrontEnd
from agi.cli import settle_heap
from agi.fake import fakedialplan
from agi.fake.fakepbx import AgentsSpec, CallRecord, PbxElsewhere, PlannedCall
from bench.directory import number_of, populate
from bench.scratch import analyze, on_each_backend
from router.config import Settings
from router.storage.db import Database

SEQUENTIAL_CALLS = 2000
HELD_CALLS = {8: 800, 64: 3000}
HELD_TIME_SCALE = 1 / 50
HELD_AGENTS = AgentsSpec(kind="chance", seed=5, answer=1.0, talk_range=(10, 50))
# The first calls of a held run start over one mean call (ring 2-15 s, talk
# 10-50 s, at the run's speed), not in one instant: the state of a PBX that
# has been up a while. The wave of calls at once is the overload line's.
HELD_RAMP_SECONDS = ((2 + 15) / 2 + sum(HELD_AGENTS.talk_range) / 2) * HELD_TIME_SCALE
OVERLOAD_INFLIGHT = 64
OVERLOAD_CALLS = 4000
ADVISE_CALLS = 6000
ADVISE_INFLIGHT = 16


def run(size: int, pg_url: str | None) -> None:
    on_each_backend(size, pg_url, "callfront", _bench)


def _bench(url: str, backend: str, size: int) -> None:
    db = Database(url)
    db.ensure_schema()
    seconds = populate(db, size)
    if backend == "postgresql":
        analyze(db)  # as autovacuum does after a bulk load (SQLite has nothing like it)
    db.dispose()
    print(f"call front ({backend}): directory of {size:,} households loaded in {seconds:.0f} s", flush=True)
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as spool:
        settings = Settings(
            db=url, listen="127.0.0.1:0", metrics="127.0.0.1:0", spool_dir=spool, max_calls=512
        )
        front = FrontEnd(settings).start()
        settle_heap()
        instant = AgentsSpec(ring_seconds=1, talk_seconds=30)
        runs = [(1, SEQUENTIAL_CALLS, instant, 0.0, 0.0, "in flight")]
        runs += [
            (n, count, HELD_AGENTS, HELD_TIME_SCALE, HELD_RAMP_SECONDS, "in flight")
            for n, count in HELD_CALLS.items()
        ]
        runs += [(OVERLOAD_INFLIGHT, OVERLOAD_CALLS, instant, 0.0, 0.0, "back to back (overload)")]
        try:
            for inflight, count, agents, scale, ramp, label in runs:
                with PbxElsewhere(front.address, inflight, agents, scale, ramp) as pbx:
                    pbx.drive(_callers(rng, size, 200))  # warm the pools and caches
                    records = pbx.drive(_callers(rng, size, count))
                    _report_latency(backend, "dial", f"{inflight} {label}", records, pbx.seconds)
        finally:
            front.stop(grace=5)
        rates: dict[bool, list[float]] = {}
        cpu: list[tuple[float, float]] = []  # server's and fake's CPU seconds per routed call
        for metrics in ("127.0.0.1:0", "off", "127.0.0.1:0", "off"):
            advise = FrontEnd(dataclasses.replace(settings, mode="advise", metrics=metrics)).start()
            try:
                with PbxElsewhere(advise.address, ADVISE_INFLIGHT, AgentsSpec()) as pbx:
                    pbx.run(fakedialplan.drive, _callers(rng, size, 200))
                    started_cpu = time.process_time()  # this process is the server's
                    runs = pbx.run(fakedialplan.drive, _callers(rng, size, ADVISE_CALLS))
                    server_cpu = time.process_time() - started_cpu
                routed = [r for r in runs if int(r.variables.get("CALLKEEPER_COUNT") or 0) > 0]
                rates.setdefault(metrics != "off", []).append(len(routed) / pbx.seconds)
                cpu.append((server_cpu / max(1, len(routed)), pbx.cpu_seconds / max(1, len(routed))))
                outcomes = sum(script == "outcome" for r in runs for script, _, _ in r.agi)
            finally:
                advise.stop(grace=5)
        on, off = max(rates[True]), max(rates[False])
        server_ms, fake_ms = (1000 * statistics.median(c) for c in zip(*cpu, strict=True))
        print(
            f"call front ({backend}): advise mode {off:,.0f} routed calls/s with metrics off, "
            f"{on:,.0f} with metrics on ({ADVISE_INFLIGHT} in flight; metrics cost "
            f"{100 * (off - on) / off:+.1f} %); each call through the shipped dialplan, "
            f"the last run's {len(runs):,} calls: {len(routed):,} routed, {outcomes:,} outcome sessions; "
            f"CPU per routed call: server {server_ms:.2f} ms, fake PBX {fake_ms:.2f} ms",
            flush=True,
        )


def _callers(rng: random.Random, size: int, count: int) -> list[PlannedCall]:
    return [
        PlannedCall(
            number_of(rng.randrange(2 * size))
            if rng.random() < 0.7
            else f"+7926{rng.randrange(10**6, 10**7)}",
            dnid="+74950000000",
        )
        for _ in range(count)
    ]


def _report_latency(backend: str, mode: str, label: str, records: list[CallRecord], elapsed: float) -> None:
    waits = [r.first_dial_ms for r in records if r.first_dial_ms is not None]
    failed = sum(r.status == "FAILED" for r in records)
    if len(waits) < 100:
        print(f"call front ({backend}): {label}: only {len(waits)} calls dialled", flush=True)
        return
    cuts = statistics.quantiles(waits, n=100)
    print(
        f"call front ({backend}): {label}: connect to first Dial p50 "
        f"{statistics.median(waits):.2f} ms, p99 {cuts[98]:.2f} ms; {len(records) / elapsed:,.0f} "
        f"routed calls/s in {mode} mode; {failed} failed open",
        flush=True,
    )
