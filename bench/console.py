"""The console as a supervisor meets it, through the real `callkeeper web` server over HTTP.

The database is `bench.evidence`'s: `size` households with 500 agents,
`PAST_CALLS_PER_HOUSEHOLD` past calls for each (one attempt each: issue 19's
1,000,000 families with 10,000,000 attempts), `TODAY_CALLS` calls today, and household 1 with
`TIMELINE_CALLS` covered calls, bookings and an override. A supervisor logs
in through the form; then, each request timed from the client (loopback):
search by a number typed as people type it (answered by a redirect to the
card), search by a common name in Cyrillic or Latin (a page of 50 of the
thousands that have it), a random family's card (with the families that
look like it), the timeline of household 1, and the agents board's refresh
(the htmx fragment of every agent). Printed: p50 and p99 with the sizes used and the load.

The board's counts are shared by all viewers for 2 s (`web.board_counts`):
the refreshes timed here span several of those periods, so p99 includes the
refreshes that recount. The board read without the shared counts is timed
in-process too, to say what the cache saves.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from bench.decision import fill_ledger
from bench.directory import number_of, populate
from bench.evidence import AGENTS, TIMELINE_CALLS, TODAY_CALLS, fill_household, fill_today
from bench.scratch import analyze, on_each_backend
from router.accounts import users
from router.routing import agent_board
from router.storage.db import Database
from router.storage.models import Attempt, Decision

ROUNDS = 200
PAST_CALLS_PER_HOUSEHOLD = 10
ROUNDS_TIMELINE = 50
PASSWORD = "bench-password"
# A name as an admin types it, in either script: thousands of families share it, the page lists 50.
NAMES = ("Иванова Мария", "ivanova maria", "Ivanov")
BIN = Path(sys.executable).parent


def _timed(rounds: int, work: Callable[[int], None]) -> str:
    work(-1)
    timings = []
    for n in range(rounds):
        started = time.perf_counter()
        work(n)
        timings.append((time.perf_counter() - started) * 1000)
    p50, p99 = statistics.median(timings), statistics.quantiles(timings, n=100)[98]
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (load {os.getloadavg()[0]:.1f})"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "CALLKEEPER_LOG_LEVEL": "ERROR"}
    proc = subprocess.Popen(
        [str(BIN / "callkeeper"), "--db", url, "web", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/login", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("callkeeper web did not start")


def _logged_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    answer = client.post("/login", data={"login": "bench", "password": PASSWORD, "csrf": token.group(1)})
    assert answer.status_code == 303, answer.text
    return client


def _typed(e164: str) -> str:
    """+79161234567 as people type it: 8 (916) 123-45-67."""
    d = e164[2:]
    return f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"


def measure(db: Database, url: str, backend: str, size: int) -> None:
    with db.unit_of_work() as s:
        users.add_user(s, "bench", role="supervisor", password=PASSWORD, actor="bench")
    proc, base = _serve(url)
    rng = random.Random(7)
    try:
        client = _logged_in(base)

        def search(_n: int) -> None:
            k = rng.randrange(size)
            answer = client.get("/search", params={"q": _typed(number_of(2 * k))})
            assert answer.status_code == 303 and answer.headers["location"] == f"/households/{k + 1}"

        def search_name(n: int) -> None:
            answer = client.get("/search", params={"q": NAMES[n % len(NAMES)]})
            assert answer.status_code == 200 and answer.text.count('<td><a href="/households/') == 50

        def card(_n: int) -> None:
            answer = client.get(f"/households/{rng.randrange(1, size + 1)}")
            assert answer.status_code == 200

        def read_timeline(_n: int) -> None:
            answer = client.get("/households/1/timeline")
            assert answer.status_code == 200 and answer.text.count('class="event call"') >= TIMELINE_CALLS

        def board(_n: int) -> None:
            answer = client.get("/agents", headers={"HX-Request": "true"})
            assert answer.status_code == 200 and answer.text.count("<tr data-agent=") == AGENTS

        started = time.perf_counter()
        card(-1)
        print(f"first card ({backend}), loading the suggestion index: {time.perf_counter() - started:.1f} s")
        print(f"search by number ({backend}): {_timed(ROUNDS, search)}", flush=True)
        print(f"search by name, 50 of thousands ({backend}): {_timed(ROUNDS, search_name)}", flush=True)
        print(f"family card ({backend}): {_timed(ROUNDS, card)}", flush=True)
        print(f"timeline of {TIMELINE_CALLS:,} calls ({backend}): {_timed(ROUNDS_TIMELINE, read_timeline)}")
        print(f"agents board of {AGENTS} agents, refreshed ({backend}): {_timed(ROUNDS, board)}", flush=True)

        def recount(_n: int) -> None:
            with db.reader() as s:
                agent_board.board(s, now=datetime.now(UTC), zone=ZoneInfo("Europe/Moscow"))

        print(f"agents board counted afresh, in-process ({backend}): {_timed(ROUNDS_TIMELINE, recount)}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _bench(url: str, backend: str, size: int) -> None:
    db = Database(url)
    try:
        db.ensure_schema()
        started = time.perf_counter()
        populate(db, size, agents=AGENTS)
        fill_ledger(db, size, size * PAST_CALLS_PER_HOUSEHOLD)
        filled = time.perf_counter() - started
        print(f"directory and past ledger filled ({backend}) in {filled:.0f} s", flush=True)
        fill_today(db, size, TODAY_CALLS)
        fill_household(db, 1)
        analyze(db)
        with db.reader() as s:
            calls = s.scalar(select(func.count()).select_from(Decision))
            attempts = s.scalar(select(func.count()).select_from(Attempt))
        print(
            f"setup ({backend}): {size:,} households, {AGENTS} agents, {calls:,} calls, "
            f"{attempts:,} attempts in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        measure(db, url, backend, size)
    finally:
        db.dispose()


def run(size: int, pg_url: str | None) -> None:
    on_each_backend(size, pg_url, "console", _bench)
