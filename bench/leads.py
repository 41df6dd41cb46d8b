"""Leads through HTTP: `POST /api/v1/leads` against a real `callkeeper web` on SQLite.

The directory is the directory benchmark's (`size` households, two numbers
each), loaded before the server starts, so the server builds its suggestion
index over all of it as in production. Then, over keep-alive connections on
loopback:

- assignment latency: leads one at a time, half from a family's number (its
  owner), half from an unknown number (a new family, chosen fairly), each
  timed from the request to the parsed 201;
- sustained leads/s: several clients at once for a fixed number of leads.

Goals (issue 21): p99 <= 10 ms, >= 300 leads/s in one process. The server is
told a rate limit it never reaches: the bench measures the work, not the limit.

Loading a million households takes minutes, so the loaded directory is kept
between runs: `/tmp/callkeeper-bench-leads-N-SCHEMA.db` (N the size, SCHEMA
the alembic head it was made at). A run works on a copy of it and leaves it
as it was; delete the file (or change the schema) to load afresh.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.directory import number_of, populate
from bench.scratch import sqlite_url
from router.leads import sources
from router.storage.db import Database
from router.storage.models import Household, Lead

SEQUENTIAL = 2_000
SUSTAINED = 6_000
CLIENTS = 8
WARM_UP = 100
BIN = Path(sys.executable).parent


def run(size: int, pg_url: str | None) -> None:
    del pg_url  # the goal is stated for SQLite in one process
    with sqlite_url() as url:
        _bench(url, size)


def directory_copy(url: str, size: int) -> str:
    """Fill the empty SQLite file of `url` with the directory of `size`, from the kept copy if any."""
    target = Path(make_url(url).database or "")
    kept = Path(tempfile.gettempdir()) / f"callkeeper-bench-leads-{size}-{_schema_head()}.db"
    if kept.exists():
        shutil.copyfile(kept, target)
        return f"copied from {kept}"
    db = Database(url)
    db.ensure_schema()
    seconds = populate(db, size)
    db.dispose()  # the last connection closed: the WAL is folded into the file
    partial = kept.with_suffix(f".{os.getpid()}.part")
    shutil.copyfile(target, partial)
    partial.replace(kept)
    return f"loaded in {seconds:.0f} s (kept as {kept})"


def _schema_head() -> str:
    from alembic.script import ScriptDirectory

    from router.storage.db import alembic_config

    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def _bench(url: str, size: int) -> None:
    how = directory_copy(url, size)
    db = Database(url)
    with db.unit_of_work() as s:
        token = sources.add_source(s, "bench", actor="bench").token
    db.dispose()
    print(f"leads (sqlite): directory of {size:,} households {how}", flush=True)
    port = _free_port()
    env = {
        **os.environ,
        "CALLKEEPER_LOG_LEVEL": "WARNING",
        "CALLKEEPER_LEAD_API_RATE_PER_SECOND": "1000000",
        "CALLKEEPER_LEAD_API_BURST": "1000000",
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [str(BIN / "callkeeper"), "--db", url, "web", "--listen", f"127.0.0.1:{port}"],
            env=env,
            cwd=tmp,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_for(port, proc)
            print(
                f"leads (sqlite): callkeeper web listening in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            rng = random.Random(21)
            # The first lead loads the process's suggestion index (once per process): not a lead's cost.
            client = _Client(port, token, timeout=1800)
            started = time.perf_counter()
            client.post(_lead(rng, size, "first"))
            print(
                f"leads (sqlite): the first lead, which loads the suggestion index: "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            client.close()
            client = _Client(port, token)
            for n in range(WARM_UP):
                client.post(_lead(rng, size, f"w{n}"))
            timings = [client.post(_lead(rng, size, f"s{n}")) for n in range(SEQUENTIAL)]
            client.close()
            cuts = statistics.quantiles(timings, n=100)
            print(
                f"leads (sqlite): assignment over HTTP, {SEQUENTIAL:,} leads one at a time: "
                f"p50 {statistics.median(timings):.2f} ms, p99 {cuts[98]:.2f} ms, "
                f"max {max(timings):.2f} ms (goal p99 <= 10 ms)",
                flush=True,
            )
            cpu_before = _cpu_seconds(proc.pid)
            elapsed = _sustained(port, token, size)
            cpu = _cpu_seconds(proc.pid) - cpu_before
            print(
                f"leads (sqlite): sustained, {CLIENTS} clients, {SUSTAINED:,} leads in {elapsed:.1f} s: "
                f"{SUSTAINED / elapsed:.0f} leads/s (goal >= 300/s; load average {os.getloadavg()[0]:.1f}); "
                f"the server's CPU {1000 * cpu / SUSTAINED:.2f} ms a lead",
                flush=True,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    db = Database(url)
    with db.reader() as s:
        leads = s.scalar(select(func.count()).select_from(Lead))
        families = s.scalar(select(func.count()).select_from(Household))
    db.dispose()
    print(f"leads (sqlite): stored {leads:,} leads; {families:,} households at the end", flush=True)


def _lead(rng: random.Random, size: int, ref: str) -> dict[str, str]:
    """Half from a known family's number, half from a number nobody has."""
    known = rng.random() < 0.5
    k = rng.randrange(2 * size) if known else 3 * size + rng.randrange(10 * size)
    return {"external_id": ref, "phone": number_of(k), "name": "Петрова Анна"}


class _Client:
    def __init__(self, port: int, token: str, timeout: float = 30) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, lead: dict[str, str]) -> float:
        """Milliseconds from the request to the parsed reply."""
        body = json.dumps(lead)
        started = time.perf_counter_ns()
        self.conn.request("POST", "/api/v1/leads", body=body, headers=self.headers)
        response = self.conn.getresponse()
        reply = json.loads(response.read())
        spent = (time.perf_counter_ns() - started) / 1e6
        if response.status not in (200, 201) or "assigned_to" not in reply:
            raise AssertionError(f"{response.status}: {reply}")
        return spent

    def close(self) -> None:
        self.conn.close()


def _sustained(port: int, token: str, size: int) -> float:
    per_client = SUSTAINED // CLIENTS
    errors: list[BaseException] = []

    def work(n: int) -> None:
        rng = random.Random(100 + n)
        client = _Client(port, token)
        try:
            for i in range(per_client):
                client.post(_lead(rng, size, f"c{n}-{i}"))
        except BaseException as exc:  # reported below, after the others finish
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise AssertionError(f"{len(errors)} clients failed, the first: {errors[0]}")
    return elapsed


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far (Linux's /proc), every thread of it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "callkeeper web exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"callkeeper web did not listen on {port} in {timeout:.0f} s")
