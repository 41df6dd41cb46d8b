"""The directory at full size: CSV import time and `lookup(number)` latency.

Other benchmarks reuse `write_directory_csv` and `populate` to get a directory
of realistic size: households of Russian names, two numbers each, owners
spread over ~200 agents in 4 offices.
"""

from __future__ import annotations

import csv
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.scratch import on_each_backend
from router.directory import household_csv, household_reads, offices
from router.storage.db import Database

OFFICES = ("msk", "spb", "ekb", "nsk")
AGENTS = 200
LOOKUPS = 20_000
MISSES = 2_000
REGION = "RU"
# An odd multiplier prime to 10: k -> k * M mod 10^8 is a bijection, so numbers
# are unique but scattered over the index like real ones.
_SCRAMBLE = 2_654_435_761
_SURNAMES = (
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
)
_MEN = (
    "Александр",
    "Сергей",
    "Дмитрий",
    "Андрей",
    "Алексей",
    "Максим",
    "Иван",
    "Михаил",
    "Николай",
    "Павел",
)
_WOMEN = (
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Мария",
    "Анна",
    "Ирина",
    "Светлана",
    "Юлия",
    "Екатерина",
)
_PATRONYMS = (
    "Александров",
    "Сергеев",
    "Дмитриев",
    "Андреев",
    "Алексеев",
    "Иванов",
    "Михайлов",
    "Петров",
)


def number_of(k: int) -> str:
    """The k-th benchmark phone number: a valid Russian mobile in E.164."""
    return f"+791{(k * _SCRAMBLE) % 10**8:08d}"


def agent_logins(count: int = AGENTS) -> list[str]:
    return [f"agent{i:03d}" for i in range(1, count + 1)]


def _household_rows(households: int, agents: Sequence[str]) -> Iterator[list[str]]:
    rng = random.Random(1)
    for i in range(households):
        surname = rng.choice(_SURNAMES)
        patronym = rng.choice(_PATRONYMS)
        husband = f"{surname} {rng.choice(_MEN)} {patronym}ич"
        wife = f"{surname}а {rng.choice(_WOMEN)} {patronym}на"
        owner = agents[i % len(agents)] if agents and i % 10 else ""
        yield [
            f"{surname}ы",
            owner,
            f"{husband};{wife}",
            f"{number_of(2 * i)}=mobile;{number_of(2 * i + 1)}=spouse",
        ]


def write_directory_csv(path: Path, households: int, agents: Sequence[str]) -> None:
    """A CSV of `households` households with numbers `number_of(0 .. 2*households-1)`.

    Nine households in ten are owned, round-robin over `agents`.
    """
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["name", "owner", "members", "numbers"])
        writer.writerows(_household_rows(households, agents))


def add_agents(db: Database, count: int = AGENTS) -> list[str]:
    """Four offices and `count` agents spread over them; returns the logins."""
    logins = agent_logins(count)
    with db.unit_of_work() as s:
        for i, code in enumerate(OFFICES):
            offices.add_office(s, code, lines=[f"+7495000000{i}"], region=REGION)
        for i, login in enumerate(logins):
            offices.add_agent(s, login, office=OFFICES[i % len(OFFICES)], dial=f"PJSIP/{100 + i}")
    return logins


def import_csv(db: Database, path: Path) -> tuple[float, float]:
    """Import `path` in one transaction: (wall seconds, CPU seconds of this process and its workers)."""
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    with db.unit_of_work() as s:
        household_csv.import_households(s, path, region=REGION, actor="bench")
    return time.perf_counter() - started, _cpu_seconds() - cpu_started


def populate(db: Database, households: int, *, agents: int = AGENTS) -> float:
    """Fill an empty `db` with offices, agents and `households`; returns the import seconds."""
    logins = add_agents(db, agents)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "offices.csv"
        write_directory_csv(path, households, logins)
        return import_csv(db, path)[0]


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def measure_lookups(db: Database, size: int) -> list[float]:
    """Milliseconds of each lookup, through one session kept open as the server does."""
    rng = random.Random(2)
    keys = [number_of(rng.randrange(2 * size)) for _ in range(LOOKUPS)]
    keys += [number_of(2 * size + rng.randrange(size)) for _ in range(MISSES)]
    rng.shuffle(keys)
    timings: list[float] = []
    with db.reader() as s:
        for key in keys[:200]:
            household_reads.lookup(s, key)
        found = 0
        for key in keys:
            started = time.perf_counter_ns()
            owner = household_reads.lookup(s, key)
            timings.append((time.perf_counter_ns() - started) / 1e6)
            found += owner is not None
    if found != LOOKUPS:
        raise AssertionError(f"{found} of {LOOKUPS} existing numbers found")
    return timings


def _report(backend: str, households: int, seconds: float, cpu: float, timings: list[float]) -> None:
    # The machine may be shared: CPU time and load say how much of the wall
    # time was this benchmark's own work.
    print(
        f"import {households:,} households / {2 * households:,} numbers ({backend}): {seconds:.1f} s "
        f"(CPU {cpu:.1f} s in this process and its workers, load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    cuts = statistics.quantiles(timings, n=100)
    print(
        f"lookup ({backend}): p50 {statistics.median(timings):.3f} ms, p99 {cuts[98]:.3f} ms "
        f"over {len(timings):,} lookups ({MISSES:,} misses), load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def _bench(url: str, backend: str, households: int) -> None:
    db = Database(url)
    try:
        db.ensure_schema()
        logins = add_agents(db)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "offices.csv"
            write_directory_csv(path, households, logins)
            seconds, cpu = import_csv(db, path)
        _report(backend, households, seconds, cpu, measure_lookups(db, households))
    finally:
        db.dispose()


def run(size: int, pg_url: str | None) -> None:
    on_each_backend(size, pg_url, "directory", _bench)
