"""Household suggestions at full size: index build, `suggest` latency, and quality.

The index is built straight from the synthetic generator (no database) so the
1,000,000-household figures measure the index alone; loading the same index
from SQLite (and PostgreSQL when CALLKEEPER_BENCH_PG is set) is timed on a
smaller directory. Quality (`bench.suggest_eval`) is measured on the
generator's labelled cases and on the hand-written hard cases under tests/.
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from bench import suggest_eval
from bench.synthetic_families import Case, SyntheticDirectory
from identity.index import SuggestionIndex
from identity.records import HouseholdRecord
from router.directory import suggestions
from router.storage.db import Database
from router.storage.models import Agent, Household, Member, Office, PhoneNumber

CASES = 5_000
DB_SIZE = 20_000
_PG_BENCH_DB = "ck_bench_suggest"


def run(size: int, pg_url: str | None) -> None:
    directory = SyntheticDirectory(size, case_every=max(1, size // CASES))
    clock = _Clock()
    rss_before, peak_before = _memory()
    started, started_cpu = time.perf_counter(), time.thread_time()
    index = SuggestionIndex.build(clock.timed(directory.records()))
    total, total_cpu = time.perf_counter() - started, time.thread_time() - started_cpu
    gc.collect()
    gc.freeze()  # what a process keeping the index for long should do
    rss_after, peak_after = _memory()
    print(
        f"index build     {len(index):,} households: {total - clock.spent:.1f} s wall, "
        f"{total_cpu - clock.spent_cpu:.1f} s CPU (+ {clock.spent:.1f} s generating them)"
    )
    print(
        f"index memory    {(rss_after - rss_before) / 2**20:.0f} MiB resident after build, "
        f"peak growth {(peak_after - peak_before) / 2**20:.0f} MiB (RSS, includes the generator)"
    )
    _latency(index, directory.cases)
    synthetic = suggest_eval.answer(index, directory.cases)
    suggest_eval.report(synthetic, f"quality on the synthetic directory of {len(index):,} households")
    records, cases = suggest_eval.hard_cases()
    hard = suggest_eval.answer(SuggestionIndex.build(records), cases)
    suggest_eval.report(hard, f"quality on the hand-written hard cases ({suggest_eval.HARD_CASES.name})")
    suggest_eval.report([*synthetic, *hard], "calibration on both")
    _load_from_databases(min(size, DB_SIZE), pg_url)


def _latency(index: SuggestionIndex, cases: list[Case]) -> None:
    wall, cpu = [], []
    for case in cases:
        started, started_cpu = time.perf_counter(), time.thread_time()
        index.suggest(case.query, limit=5)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    for label, times in (("wall", wall), ("CPU", cpu)):
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"suggest {label:<7} {len(times):,} queries: median {statistics.median(times):.2f} ms, "
            f"p99 {p99:.2f} ms, max {times[-1]:.2f} ms"
        )
    print(f"                (CPU time excludes waiting for a core: load average {os.getloadavg()[0]:.1f})")


def _load_from_databases(size: int, pg_url: str | None) -> None:
    records = list(SyntheticDirectory(size).records())
    with tempfile.TemporaryDirectory() as folder:
        _load_from("sqlite", f"sqlite:///{Path(folder) / 'suggest.db'}", records)
    if pg_url:
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_PG_BENCH_DB}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{_PG_BENCH_DB}"'))
        try:
            url = make_url(pg_url).set(database=_PG_BENCH_DB).render_as_string(hide_password=False)
            _load_from("postgresql", url, records)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{_PG_BENCH_DB}" WITH (FORCE)'))
            admin.dispose()


def _load_from(backend: str, url: str, records: list[HouseholdRecord]) -> None:
    database = Database(url)
    database.ensure_schema()
    try:
        _fill(database, records)
        started = time.perf_counter()
        with database.reader() as session:
            index = suggestions.load_index(session)
        print(
            f"index from {backend:<10} {len(index):,} households loaded in "
            f"{time.perf_counter() - started:.2f} s"
        )
    finally:
        database.dispose()


def _fill(database: Database, records: list[HouseholdRecord]) -> None:
    """The generated households as rows, with Core bulk inserts."""
    owners = sorted({r.owner for r in records if r.owner})
    agent_ids = {login: i for i, login in enumerate(owners, start=1)}
    with database.unit_of_work() as s:
        s.execute(insert(Office), [{"id": 1, "code": "msk", "name": "Moscow"}])
        s.execute(
            insert(Agent),
            [{"id": i, "login": login, "office_id": 1, "dial": f"PJSIP/{i}"}
             for login, i in agent_ids.items()],
        )  # fmt: skip
        s.execute(
            insert(Household),
            [
                {"id": r.id, "owner_id": agent_ids.get(r.owner or ""), "email": r.email,
                 "address": r.address}
                for r in records
            ],
        )  # fmt: skip
        s.execute(
            insert(Member),
            [{"household_id": r.id, "position": i, "full_name": name}
             for r in records for i, name in enumerate(r.members)],
        )  # fmt: skip
        s.execute(
            insert(PhoneNumber),
            [{"household_id": r.id, "number": n} for r in records for n in r.numbers],
        )


class _Clock:
    """Time spent inside an iterator, to tell generating records from indexing them."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.spent_cpu = 0.0

    def timed(self, items: Iterable[HouseholdRecord]) -> Iterator[HouseholdRecord]:
        iterator = iter(items)
        while True:
            started, started_cpu = time.perf_counter(), time.thread_time()
            item = next(iterator, None)
            self.spent += time.perf_counter() - started
            self.spent_cpu += time.thread_time() - started_cpu
            if item is None:
                return
            yield item


def _memory() -> tuple[int, int]:
    """Resident and peak resident bytes of this process (Linux /proc)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)
