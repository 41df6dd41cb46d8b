"""The call front on an ops person's worst day (issue 17), as figures.

Each run starts a real `callkeeper serve` process and drives it with the fake
Asterisk on loopback:

- drip: 300 connections that send their environment one byte every 1.5 s
  (reconnecting whenever the server cuts them) while normal calls arrive at
  about 4 per second for 20 s: how many of those are routed;
- freeze (PostgreSQL only): calls keep arriving (each rings one agent who
  does not answer, then one who does) while every backend of the server's
  database is stopped (SIGSTOP) for FREEZE_SECONDS: the longest a caller was
  held after a Dial ended (until the next Dial or the end of the call);
- sigterm: 20 calls per second, SIGTERM in the middle, five runs: the exit
  code, and calls accepted and then left unanswered (held in silence, or
  closed with no CALLKEEPER_STATUS).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from agi.fake.fakepbx import ANSWER, NOANSWER, Answer, CallRecord, FakePbx
from bench.scratch import postgres_url
from router.directory import offices
from router.storage.db import Database

BIN = Path(sys.executable).parent
LINE = "+74951234567"
AGENTS = {f"a{n}": f"PJSIP/{100 + n}" for n in range(1, 9)}
DRIP_CONNECTIONS = 300
DRIP_SECONDS = 20.0
DRIP_CALLS_PER_SECOND = 4.0
FREEZE_SECONDS = float(os.environ.get("CALLKEEPER_BENCH_FREEZE_SECONDS", "45"))
SIGTERM_RUNS = 5
SIGTERM_RATE = 20.0
TIME_SCALE = 0.05  # one simulated second is 50 ms


def run(size: int, pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/faults.db"
        _seed(url)
        _drip(url, Path(tmp))
        _sigterm(url, Path(tmp))
    if pg_url is None:
        print("freeze (postgresql): skipped, set CALLKEEPER_BENCH_PG", flush=True)
        return
    with postgres_url(pg_url, "faults") as url, tempfile.TemporaryDirectory() as tmp:
        _seed(url)
        _freeze(url, Path(tmp))


def _seed(url: str) -> None:
    db = Database(url)
    try:
        db.ensure_schema()
        with db.unit_of_work() as s:
            offices.add_office(s, "msk", name="Moscow", lines=[LINE], region="RU")
            for login, dial in AGENTS.items():
                offices.add_agent(s, login, office="msk", dial=dial)
    finally:
        db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(url: str, folder: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "callkeeper"), "serve", "--db", url, "--listen", f"127.0.0.1:{port}", "--metrics", "off"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=folder,
        env={**os.environ, "CALLKEEPER_LOG_LEVEL": "WARNING", **env},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _caller(n: int) -> str:
    return f"+7916{n:07d}"


# -- drip ------------------------------------------------------------------------


def _drip(url: str, folder: Path) -> None:
    with _serve(url, folder) as (_proc, port):
        stop = threading.Event()
        cut = [0]

        def dripper() -> None:
            socks: list[socket.socket | None] = [None] * DRIP_CONNECTIONS
            while not stop.is_set():
                for i in range(DRIP_CONNECTIONS):
                    try:
                        if socks[i] is None:
                            socks[i] = socket.create_connection(("127.0.0.1", port), timeout=1)
                        sock = socks[i]
                        assert sock is not None
                        sock.send(b"a")
                    except OSError:
                        cut[0] += 1
                        old = socks[i]
                        if old is not None:
                            old.close()
                        socks[i] = None
                stop.wait(1.5)
            for sock in socks:
                if sock is not None:
                    sock.close()

        drip = threading.Thread(target=dripper, daemon=True)
        drip.start()
        time.sleep(3)
        results: list[CallRecord] = []
        lock = threading.Lock()

        def one(n: int) -> None:
            record = FakePbx("127.0.0.1", port).call(_caller(n), args=["msk"], timeout=15)
            with lock:
                results.append(record)

        calls = []
        for n in range(int(DRIP_SECONDS * DRIP_CALLS_PER_SECOND)):
            calls.append(threading.Thread(target=one, args=(n,)))
            calls[-1].start()
            time.sleep(1 / DRIP_CALLS_PER_SECOND)
        for call in calls:
            call.join(30)
        stop.set()
        drip.join(10)
        routed = sum(1 for r in results if r.status == "ANSWERED")
        print(
            f"drip: {DRIP_CONNECTIONS} drip connections (one byte / 1.5 s, {cut[0]} cut by the server): "
            f"{routed} of {len(results)} normal calls routed",
            flush=True,
        )


# -- sigterm -----------------------------------------------------------------------


def _sigterm(url: str, folder: Path) -> None:
    for run_no in range(1, SIGTERM_RUNS + 1):
        code, outcomes = _sigterm_run(url, folder)
        text = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(f"sigterm run {run_no}: exit {code}; {text}", flush=True)


def _sigterm_run(url: str, folder: Path) -> tuple[int | str, dict[str, int]]:
    with _serve(url, folder, CALLKEEPER_STOP_GRACE_SECONDS="10") as (proc, port):
        outcomes: dict[str, int] = {}
        lock = threading.Lock()
        pbx = FakePbx("127.0.0.1", port, lambda d, t: Answer(ANSWER, 0, 10), time_scale=TIME_SCALE)

        def one(n: int) -> None:
            try:
                record = pbx.call(_caller(n), args=["msk"], timeout=10)
                if record.agistatus == "FAILURE":
                    kind = "refused (port closed)"
                elif record.status is None:
                    kind = "UNANSWERED (closed without status)"
                else:
                    kind = record.status
            except OSError:
                kind = "UNANSWERED (held in silence)"
            with lock:
                outcomes[kind] = outcomes.get(kind, 0) + 1

        calls = []
        total = int(SIGTERM_RATE * 3)
        for n in range(total):
            if n == total // 2:
                proc.send_signal(signal.SIGTERM)
            calls.append(threading.Thread(target=one, args=(n,)))
            calls[-1].start()
            time.sleep(1 / SIGTERM_RATE)
        for call in calls:
            call.join(20)
        try:
            return proc.wait(20), outcomes
        except subprocess.TimeoutExpired:
            return "still running after 20 s", outcomes


# -- freeze ------------------------------------------------------------------------


@dataclass
class _Timeline:
    dial_ends: list[float] = field(default_factory=list)
    dial_starts: list[float] = field(default_factory=list)
    ended: float = 0.0


def _freeze(url: str, folder: Path) -> None:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with _serve(url, folder) as (_proc, port), psycopg.connect(plain, autocommit=True) as admin:
        timelines: list[_Timeline] = []
        lock = threading.Lock()
        stop = threading.Event()

        def one(n: int) -> None:
            line = _Timeline()
            rang = [0]

            def agents(dial: str, timeout: int) -> Answer:
                now = time.monotonic()
                line.dial_starts.append(now)
                rang[0] += 1
                answer = Answer(NOANSWER, 1, 0) if rang[0] == 1 else Answer(ANSWER, 0, 1)
                # The fake rings an agent who does not answer for the Dial's whole timeout.
                rings = timeout if answer.kind == NOANSWER else answer.ring_seconds + answer.talk_seconds
                line.dial_ends.append(now + rings * TIME_SCALE)
                return answer

            with suppress(OSError):
                FakePbx("127.0.0.1", port, agents, time_scale=TIME_SCALE).call(
                    _caller(n), args=["msk"], timeout=120
                )
            line.ended = time.monotonic()
            with lock:
                timelines.append(line)

        def traffic() -> None:
            calls, n = [], 0
            while not stop.is_set():
                calls.append(threading.Thread(target=one, args=(n,), daemon=True))
                calls[-1].start()
                n += 1
                time.sleep(0.2)
            for call in calls:
                call.join(150)

        driver = threading.Thread(target=traffic)
        driver.start()
        time.sleep(5)
        pids = [
            row[0]
            for row in admin.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        frozen_at = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(FREEZE_SECONDS)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        thawed_at = time.monotonic()
        time.sleep(10)
        stop.set()
        driver.join(200)
        held = []
        for line in timelines:
            nexts = [*line.dial_starts[1:], line.ended]
            for end, following in zip(line.dial_ends, nexts, strict=False):
                if frozen_at - 2 <= end <= thawed_at:
                    held.append(max(following - end, 0.0))
        held.sort()
        worst = held[-1] if held else float("nan")
        median = held[len(held) // 2] if held else float("nan")
        print(
            f"freeze: {len(pids)} backends stopped {FREEZE_SECONDS:.0f} s; "
            f"{len(held)} Dials ended during it; held after a Dial: median {median * 1000:.0f} ms, "
            f"longest {worst * 1000:.0f} ms, over 1 s: {sum(1 for h in held if h > 1)} "
            "(step deadline 300 ms)",
            flush=True,
        )
