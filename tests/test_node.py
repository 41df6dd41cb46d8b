"""`callkeeper serve --workers N`: one node of N worker processes sharing the port.

Run as an admin runs it, as an installed command; calls come from the fake
PBX on a real socket, the ledger is read from the real database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from agi.advised import SharedAdvisedCalls
from agi.app import FrontEnd
from agi.fake.fakepbx import Answer, FakePbx, scripted
from agi.spool import LedgerSpool, spool_name
from identity.numbers import normalize
from router.config import Settings
from router.routing.service import Call, DialOutcome, Router
from router.storage.db import Database
from router.storage.models import Attempt
from tests.agency import IVANOV_MOBILE, PETROV_MOBILE
from tests.test_serve_process import BIN, free_port, wait_for_port


class NodeUnderTest:
    def __init__(self, proc: subprocess.Popen[str], port: int, metrics: str) -> None:
        self.proc = proc
        self.port = port
        self.metrics = metrics

    def scrape(self) -> dict[str, float]:
        """/metrics as {series with labels: value}."""
        with urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=5) as response:
            body = response.read().decode()
        series = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                series[name] = float(value)
        return series

    def workers(self) -> list[int]:
        """Pids of the parent's worker processes."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def wait_until(self, what: str, check: object) -> None:
        deadline = time.monotonic() + 60
        while not callable(check) or not check():
            assert self.proc.poll() is None, f"node exited while waiting for {what}"
            assert time.monotonic() < deadline, f"never saw {what}"
            time.sleep(0.1)


@pytest.fixture
def node(db_url: str, agency: dict[str, int], tmp_path: Path) -> Iterator[NodeUnderTest]:
    port = free_port()
    metrics = f"127.0.0.1:{free_port()}"
    argv = [str(BIN / "callkeeper"), "serve", "--db", db_url, "--listen", f"127.0.0.1:{port}"]
    argv += ["--metrics", metrics, "--workers", "2"]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "CALLKEEPER_STOP_GRACE_SECONDS": "20"},
    )
    running = NodeUnderTest(proc, port, metrics)
    try:
        wait_for_port(port, proc)  # type: ignore[arg-type]
        running.wait_until("both workers listening (/readyz)", lambda: _ready(metrics))
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def _ready(metrics: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{metrics}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def _pbx(port: int, talk_seconds: int = 0, time_scale: float = 1.0) -> FakePbx:
    agents = scripted({}, Answer(ring_seconds=0, talk_seconds=talk_seconds))
    return FakePbx("127.0.0.1", port, agents, time_scale=time_scale)


def _decisions(db_url: str) -> list[str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT call_uid FROM decisions"))]
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_workers_both_serve_calls_each_in_the_ledger_and_metrics_summed(
    node: NodeUnderTest, db_url: str
) -> None:
    pbx = _pbx(node.port)
    calls = 24  # each from its own source port: the kernel spreads them over both listeners
    results = [pbx.call(IVANOV_MOBILE, args=["msk"], uid=f"node-{i}") for i in range(calls)]
    assert [r.status for r in results] == ["ANSWERED"] * calls
    assert sorted(_decisions(db_url)) == sorted(f"127.0.0.1/node-{i}" for i in range(calls))
    series = node.scrape()
    per_worker = [series[f'callkeeper_worker_sessions_total{{worker="{w}"}}'] for w in (0, 1)]
    assert all(n > 0 for n in per_worker), per_worker
    assert sum(per_worker) == calls
    assert series['callkeeper_agi_sessions_total{result="answered"}'] == calls
    assert series["callkeeper_agi_sessions_active"] == 0
    assert series["callkeeper_workers"] == 2
    assert series["callkeeper_ready"] == 1


@pytest.mark.slow
def test_sigterm_to_the_node_lets_calls_in_progress_finish_and_exits_0(
    node: NodeUnderTest, db_url: str
) -> None:
    # One simulated second is 50 ms: each call talks for 2 s of real time.
    pbx = _pbx(node.port, talk_seconds=40, time_scale=0.05)
    statuses: list[str | None] = []
    # Five agents: three in Moscow (the Ivanovs' owner, then two colleagues), two in St Petersburg.
    calls = [(IVANOV_MOBILE, "msk")] * 3 + [(PETROV_MOBILE, "spb")] * 2

    def call(caller: str, line: str) -> None:
        statuses.append(pbx.call(caller, args=[line]).status)

    threads = [threading.Thread(target=call, args=c) for c in calls]
    for thread in threads:
        thread.start()
    node.wait_until("calls in progress", lambda: node.scrape()["callkeeper_agi_sessions_active"] == 5)
    node.proc.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(30)
    assert node.proc.wait(30) == 0  # the grace is 20 s: exited within it plus the kill margin
    assert statuses == ["ANSWERED"] * 5
    assert len(_decisions(db_url)) == 5
    stderr = node.proc.stderr.read() if node.proc.stderr else ""
    assert stderr.count("worker 0: FastAGI on") == 1 and stderr.count("worker 1: FastAGI on") == 1
    assert "agi.node: stopped cleanly" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_a_killed_worker_is_replaced_logged_and_counted(node: NodeUnderTest) -> None:
    before = node.workers()
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    node.wait_until("a new worker", lambda: len(node.workers()) == 2 and before[0] not in node.workers())
    node.wait_until("the new worker ready", lambda: node.scrape()["callkeeper_workers"] == 2)
    assert node.scrape()["callkeeper_worker_restarts_total"] == 1
    pbx = _pbx(node.port)
    node.wait_until("both workers listening", lambda: _listeners(node.port) == 2)
    assert [pbx.call(IVANOV_MOBILE, args=["msk"]).status for _ in range(6)] == ["ANSWERED"] * 6
    node.proc.send_signal(signal.SIGTERM)
    assert node.proc.wait(60) == 0
    stderr = node.proc.stderr.read() if node.proc.stderr else ""
    assert f"(pid {before[0]}) ended unasked (signal 9); starting another" in stderr


def test_workers_of_a_killed_node_stop_instead_of_serving_on_as_orphans(node: NodeUnderTest) -> None:
    """SIGKILL to the parent (no SIGTERM to forward): each worker sees it gone and stops as on SIGTERM."""
    workers = node.workers()
    assert len(workers) == 2
    node.proc.kill()
    node.proc.wait()
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"orphaned workers still running: {workers}"
        time.sleep(0.1)
    assert _listeners(node.port) == 0


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie has ended: the killed parent's init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _listeners(port: int) -> int:
    """Sockets listening on `port` (state 0A in /proc/net/tcp)."""
    needle = f":{port:04X} 00000000:0000 0A"
    return sum(line.count(needle) for line in Path("/proc/net/tcp").read_text().splitlines())


def test_each_worker_spools_to_its_own_file_and_worker_0_replays_those_a_smaller_node_left(
    db: Database, agency: dict[str, int], tmp_path: Path
) -> None:
    router = Router(db, Settings(db=db.url))
    decisions = [
        router.decide(Call(f"w-{i}", normalize(IVANOV_MOBILE), "msk", datetime.now(UTC))) for i in range(3)
    ]
    outcome = DialOutcome("NOANSWER", datetime.now(UTC), 20.0, 0.0)
    for worker, decision in enumerate(decisions):
        LedgerSpool(tmp_path / "spool", spool_name(worker)).add(decision.id, 1, outcome)
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == [
        "ledger-spool.1.jsonl",
        "ledger-spool.2.jsonl",
        "ledger-spool.jsonl",
    ]
    # The node now has two workers: worker 2's file is an orphan, and worker 0 replays it with its own.
    front = FrontEnd(
        Settings(
            db=db.url, spool_dir=str(tmp_path / "spool"), workers=2, metrics="off", listen="127.0.0.1:0"
        ),
        worker=0,
    )
    try:
        front.housekeeping()
    finally:
        front.stop(0)
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == [
        "ledger-spool.1.jsonl"
    ]  # worker 1's own
    with db.reader() as s:
        recorded = set(s.scalars(select(Attempt.decision_id)))
    assert recorded == {decisions[0].id, decisions[2].id}


def test_an_outcome_recorded_by_any_worker_crosses_the_call_off_for_the_whole_node(tmp_path: Path) -> None:
    table = tmp_path / "advised-calls"
    SharedAdvisedCalls.create(table)
    advising, recording = SharedAdvisedCalls(table), SharedAdvisedCalls(table)  # two workers' views
    advising.add(41, time.monotonic() + 300)
    advising.add(42, time.monotonic() + 300)
    advising.add(43, time.monotonic() - 1)  # its wait is over: no longer counted
    assert recording.count() == 2  # a stopping worker keeps listening for the other's calls
    recording.discard(41)
    assert advising.count() == 1
    recording.discard(42)
    assert advising.count() == 0


@pytest.mark.slow
def test_a_node_whose_port_is_taken_exits_7_instead_of_restarting_workers(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [str(BIN / "callkeeper"), "serve", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--workers", "2"]
        argv += ["--listen", f"127.0.0.1:{port}", "--metrics", "off"]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    assert done.returncode == 7, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "starting another" not in done.stderr
