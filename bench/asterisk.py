"""Routing through the real Asterisk 22 (bench/real_asterisk.py), side by side:

- `astdb`: the floor, no AGI at all: the dialplan reads DB(owner/NUMBER) and Dials;
- `minimal`: the simplest FastAGI peer (bench/minimal_agi.py): one indexed
  SQLite lookup, one `EXEC Dial`;
- `dial-1`, `dial-N`: `callkeeper serve` in dial mode, 1 and N (2) workers;
- `advise`: `callkeeper serve` in advise mode (1 worker), the shipped
  dialplan dialling the targets and reporting each outcome.

Every Callkeeper call goes through deploy/asterisk/extensions.conf unchanged;
each server is its own process, so its CPU is its own. The directory has
100,000 households (fewer if `--size` says so), 200 agents, each a Local
channel into `bench-agents`, which answers and hangs up at once. Callers:
seven in ten known numbers, the rest new. Each caller sends a tone
(Milliwatt): an agent's Answer() waits up to 500 ms for the first media frame,
and a silent Local channel would make every call last half a second.

The routing step is timed on Asterisk's clock (`STRFTIME(,,%s.%6q)`): from
the bench's context handing the call to the router (for `astdb`, the step
before its DB() read; for the others, the step before the shipped context's
or the minimal one's AGI, a few dialplan steps ahead of the connect) to the
first step of the first agent leg the router's Dial created. The timestamps
come back in `UserEvent`s over the manager interface, which also places the
calls (`Originate`). At 1 call in flight, one call after another; at 50, a
new call as each ends, back to back: that run gives the capacity
(calls completed per second) and the CPU per call, from /proc/PID/stat
(utime + stime) of Asterisk and of the server's processes, over the calls.
The rounds are interleaved (each approach once per round, the order turned
each round) so that the machine's noise falls on every approach alike; the
figures are over all rounds, capacity and CPU as the median of the rounds.
The servers log and serve metrics as `callkeeper serve` does by default.
SQLite only, so far: no PostgreSQL run is written yet.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from agi import variables as var
from bench.ami import Manager, manager_conf
from bench.directory import number_of, populate
from bench.real_asterisk import REPO, Asterisk, shared_dir, tarball, unpack
from bench.scratch import analyze
from router.storage.db import Database

HOUSEHOLDS = 100_000
ROUNDS = 3
SEQUENTIAL_CALLS = 300  # per round and approach, one at a time
INFLIGHT = 50
BURST_CALLS = 1500  # per round and approach, INFLIGHT at a time
WORKERS = 2
LINE = "74950000000"  # office msk's line, as a trunk delivers it
CALL_TIMEOUT_SECONDS = 60
AMI_USER, AMI_SECRET = "bench", "bench"
# A tree of the product to compare against in the same run (e.g. `git archive main`, unpacked).
BASE_ENV = "CALLKEEPER_BENCH_BASE"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

CONTEXTS = """
[bench-prologue]
; ARG1: the caller's number without its +. CK_TAG reaches every agent leg
; (inherited), CK_T0 is when the router gets the call.
exten => s,1,Set(__CK_TAG=${UNIQUEID})
 same => n,Set(CHANNEL(hangup_handler_push)=bench-end,s,1)
 same => n,Set(CALLERID(num)=+${ARG1})
 same => n,Set(CK_T0=${STRFTIME(,,%s.%6q)})
 same => n,Return()

[bench-end]
exten => s,1,UserEvent(BenchEnd,Tag: ${CK_TAG},T0: ${CK_T0},Status: ${CALLKEEPER_STATUS}/${DIALSTATUS})
 same => n,Return()

[bench-astdb]
exten => _X.,1,GoSub(bench-prologue,s,1(${EXTEN}))
 same => n,Set(CK_OWNER=${DB(owner/+${EXTEN})})
 same => n,Dial(Local/${IF($["${CK_OWNER}" = ""]?pool:${CK_OWNER})}@bench-agents,20)
 same => n,Hangup()

[bench-minimal]
exten => _X.,1,GoSub(bench-prologue,s,1(${EXTEN}))
 same => n,AGI(${BENCH_MINIMAL_AGI})
 same => n,Hangup()

[bench-callkeeper]
exten => _X.,1,GoSub(bench-prologue,s,1(${EXTEN}))
 same => n,Goto(callkeeper-inbound,${BENCH_LINE},1)

[bench-agents]
exten => _[a-z].,1,UserEvent(BenchDial,Tag: ${CK_TAG},At: ${STRFTIME(,,%s.%6q)})
 same => n,Answer()
 same => n,Hangup()
"""

QUEUES = """[general]
persistentmembers = no

[sales]
strategy = ringall
timeout = 5
member => Local/queue@bench-agents
"""


@dataclass
class Approach:
    name: str
    label: str
    context: str
    argv: list[str] | None = None  # the server's command line; None: no server (AstDB)
    tree: str = str(REPO)  # where its code is imported from
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    waits_1: list[float] = field(default_factory=list)  # routing step, ms, 1 in flight
    waits_n: list[float] = field(default_factory=list)  # routing step, ms, INFLIGHT in flight
    rates: list[float] = field(default_factory=list)  # calls/s per round, INFLIGHT back to back
    server_cpu: list[float] = field(default_factory=list)  # ms per call per round
    asterisk_cpu: list[float] = field(default_factory=list)
    # Calls that reached no agent through the router (failed open to the queue), by
    # CALLKEEPER_STATUS/DIALSTATUS at their end.
    unrouted: Counter[str] = field(default_factory=Counter)

    @property
    def agi(self) -> str:
        return f"agi://127.0.0.1:{self.port}"


def run(size: int, pg_url: str | None) -> None:
    if tarball() is None:
        print(
            f"asterisk: skipped, no Asterisk tarball in {shared_dir() / 'dist'} "
            "(set CALLKEEPER_ASTERISK_SHARED to the folder holding dist/ and run-asterisk)",
            flush=True,
        )
        return
    with tempfile.TemporaryDirectory(prefix="ck-bench-asterisk-") as tmp:
        _bench(Path(tmp), min(size, HOUSEHOLDS))
    if pg_url is not None:
        print("asterisk (postgresql): not measured; these figures are SQLite's", flush=True)


def _bench(work: Path, households: int) -> None:
    db_path = work / "bench.db"
    started = time.perf_counter()
    owners = _directory(f"sqlite:///{db_path}", households)
    print(f"asterisk: {households:,} households loaded in {time.perf_counter() - started:.0f} s", flush=True)
    ami_port = _free_port()
    asterisk = Asterisk(
        unpack(work / "tree"),
        work / "asterisk",
        contexts=CONTEXTS,
        queues=QUEUES,
        extra_conf={"manager.conf": manager_conf(ami_port, AMI_USER, AMI_SECRET)},
        verbose="0",
    ).start()
    approaches = _approaches(db_path)
    try:
        ami = _manager(ami_port)
        started = time.perf_counter()
        _seed_astdb(ami, owners)
        print(
            f"asterisk: AstDB given {len(owners):,} owners in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        ami.action({"Action": "Setvar", "Variable": "BENCH_LINE", "Value": LINE})
        for approach in approaches:
            _start_server(approach, work)
        minimal = next(a for a in approaches if a.name == "minimal")
        ami.action({"Action": "Setvar", "Variable": "BENCH_MINIMAL_AGI", "Value": f"{minimal.agi}/route"})
        asterisk_pid = asterisk.pid()
        rng = random.Random(7)
        for round_ in range(ROUNDS):
            turn = round_ % len(approaches)
            for approach in approaches[turn:] + approaches[:turn]:
                _measure(ami, approach, asterisk_pid, rng, households)
            print(f"asterisk: round {round_ + 1} of {ROUNDS} done", flush=True)
        ami.close()
        _report(approaches, households)
    finally:
        for approach in approaches:
            _stop_server(approach)
        asterisk.stop()


def _directory(url: str, households: int) -> list[tuple[str, str]]:
    """The benchmark directory, its agents ringing Local/LOGIN@bench-agents; (number, owner) pairs."""
    db = Database(url)
    try:
        db.ensure_schema()
        populate(db, households)
        with db.unit_of_work() as s:
            s.execute(text("UPDATE agents SET dial = 'Local/' || login || '@bench-agents'"))
        analyze(db)
        with db.reader() as s:
            rows = s.execute(
                text(
                    "SELECT n.number, a.login FROM numbers n JOIN households h ON h.id = n.household_id "
                    "JOIN agents a ON a.id = h.owner_id"
                )
            )
            return [(str(number), str(login)) for number, login in rows]
    finally:
        db.dispose()


def _approaches(db_path: Path) -> list[Approach]:
    def serve(mode: str, workers: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "router.cli.main",
            "serve",
            "--db",
            f"sqlite:///{db_path}",
            "--mode",
            mode,
            "--workers",
            str(workers),
            "--metrics",
            "127.0.0.1:0",
        ]

    approaches = [
        Approach("astdb", "AstDB lookup in the dialplan", "bench-astdb"),
        Approach(
            "minimal",
            "minimal FastAGI (one lookup, one Dial)",
            "bench-minimal",
            [sys.executable, "-m", "bench.minimal_agi", str(db_path)],
        ),
        Approach("dial-1", "Callkeeper, dial mode, 1 worker", "bench-callkeeper", serve("dial", 1)),
        Approach(
            f"dial-{WORKERS}",
            f"Callkeeper, dial mode, {WORKERS} workers",
            "bench-callkeeper",
            serve("dial", WORKERS),
        ),
        Approach("advise", "Callkeeper, advise mode, 1 worker", "bench-callkeeper", serve("advise", 1)),
    ]
    base = os.environ.get(BASE_ENV)
    if base:
        approaches += [
            Approach(
                "dial-1-base",
                "Callkeeper, dial mode, 1 worker, base tree",
                "bench-callkeeper",
                serve("dial", 1),
                base,
            ),
            Approach(
                "advise-base",
                "Callkeeper, advise mode, base tree",
                "bench-callkeeper",
                serve("advise", 1),
                base,
            ),
        ]
    return approaches


def _start_server(approach: Approach, work: Path) -> None:
    if approach.argv is None:
        return
    approach.port = _free_port()
    folder = work / approach.name
    folder.mkdir()
    argv = [*approach.argv, str(approach.port)]
    if approach.name != "minimal":
        argv = [*approach.argv, "--listen", f"127.0.0.1:{approach.port}"]
    with (folder / "server.log").open("wb") as log:
        # The minimal server is bench/minimal_agi.py, run from its folder: the repository on the path.
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        approach.proc = subprocess.Popen(argv, cwd=folder, stdout=log, stderr=log, env=env)
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if approach.proc.poll() is not None:
            raise RuntimeError(f"{approach.name} exited: {(folder / 'server.log').read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", approach.port), timeout=0.2).close()
            time.sleep(1.0 if approach.name.startswith("dial-") and approach.name != "dial-1" else 0.2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{approach.name} did not listen on {approach.port}")


def _stop_server(approach: Approach) -> None:
    if approach.proc is None or approach.proc.poll() is not None:
        return
    approach.proc.send_signal(signal.SIGTERM)
    try:
        approach.proc.wait(30)
    except subprocess.TimeoutExpired:
        approach.proc.kill()
        approach.proc.wait()


def _manager(port: int) -> Manager:
    give_up = time.monotonic() + 20
    while True:
        try:
            return Manager(port, AMI_USER, AMI_SECRET)
        except OSError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.2)


def _seed_astdb(ami: Manager, owners: list[tuple[str, str]]) -> None:
    batch = 2000
    for start in range(0, len(owners), batch):
        chunk = owners[start : start + batch]
        for number, login in chunk:
            ami.send({"Action": "DBPut", "Family": "owner", "Key": number, "Val": login})
        ami.responses(len(chunk))


def _callers(rng: random.Random, households: int, count: int) -> list[str]:
    """Numbers without their +: seven in ten known, the rest new."""
    return [
        number_of(rng.randrange(2 * households))[1:]
        if rng.random() < 0.7
        else f"7926{rng.randrange(10**6, 10**7)}"
        for _ in range(count)
    ]


def _measure(
    ami: Manager, approach: Approach, asterisk_pid: int, rng: random.Random, households: int
) -> None:
    if approach.argv is not None and approach.name != "minimal":
        ami.action({"Action": "Setvar", "Variable": var.AGI_GLOBAL, "Value": approach.agi})
    _drive(ami, approach, _callers(rng, households, 20), 1)  # warm the connections and caches
    waits, _, unrouted = _drive(ami, approach, _callers(rng, households, SEQUENTIAL_CALLS), 1)
    approach.waits_1 += waits
    approach.unrouted += unrouted
    server_pids = _tree(approach.proc.pid) if approach.proc is not None else []
    cpu_before = _cpu([asterisk_pid]), _cpu(server_pids)
    waits, seconds, unrouted = _drive(ami, approach, _callers(rng, households, BURST_CALLS), INFLIGHT)
    cpu_after = _cpu([asterisk_pid]), _cpu(server_pids)
    approach.waits_n += waits
    approach.unrouted += unrouted
    approach.rates.append(BURST_CALLS / seconds)
    approach.asterisk_cpu.append(1000 * (cpu_after[0] - cpu_before[0]) / BURST_CALLS)
    approach.server_cpu.append(1000 * (cpu_after[1] - cpu_before[1]) / BURST_CALLS)


def _drive(
    ami: Manager, approach: Approach, numbers: list[str], inflight: int
) -> tuple[list[float], float, int]:
    """Place the calls, `inflight` at a time; (routing step in ms of each routed call, seconds, unrouted)."""
    first_dial: dict[str, float] = {}
    ends: list[tuple[str, float, str]] = []
    placed = 0
    started = time.perf_counter()
    while len(ends) < len(numbers):
        while placed < len(numbers) and placed - len(ends) < inflight:
            ami.send(
                {
                    "Action": "Originate",
                    "Channel": f"Local/{numbers[placed]}@{approach.context}",
                    # The caller sends a tone: an agent's Answer() waits for the first
                    # media frame (up to 500 ms on a silent Local channel) before going on.
                    "Application": "Milliwatt",
                    "Timeout": "30000",
                    "Async": "true",
                }
            )
            placed += 1
        try:
            event = ami.events.get(timeout=CALL_TIMEOUT_SECONDS)
        except queue.Empty:
            raise RuntimeError(f"{approach.name}: no call ended for {CALL_TIMEOUT_SECONDS} s") from None
        kind = event.get("UserEvent")
        if kind == "BenchDial":
            tag, at = event.get("Tag", ""), float(event.get("At") or 0)
            first_dial[tag] = min(at, first_dial.get(tag, at))
        elif kind == "BenchEnd":
            ends.append((event.get("Tag", ""), float(event.get("T0") or 0), event.get("Status", "")))
        elif event.get("Event") == "Closed":
            raise RuntimeError("the manager session closed")
    seconds = time.perf_counter() - started
    ami.responses(placed)
    waits: list[float] = []
    unrouted: Counter[str] = Counter()
    for tag, t0, status in ends:
        routed = status.startswith(var.Status.ANSWERED) or status.endswith("/ANSWER")
        if routed and tag in first_dial:
            waits.append(1000 * (first_dial[tag] - t0))
        else:
            unrouted[status] += 1
    return waits, seconds, unrouted


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (a node's workers)."""
    found = [pid]
    for parent in found:
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(c) for c in children]
    return found


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cuts(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    return statistics.median(values), statistics.quantiles(values, n=100)[98]


def _report(approaches: list[Approach], households: int) -> None:
    print(
        f"asterisk: {households:,} households, {ROUNDS} rounds interleaved; routing step on Asterisk's clock "
        f"(router gets the call -> first agent leg), {SEQUENTIAL_CALLS} calls at 1 in flight and "
        f"{BURST_CALLS:,} at {INFLIGHT} back to back per round; capacity and CPU per call: median of rounds",
        flush=True,
    )
    header = (
        f"{'approach':<44} {'p50/p99 @1 ms':>15} {f'p50/p99 @{INFLIGHT} ms':>16} "
        f"{'calls/s':>8} {'server CPU':>10} {'Asterisk CPU':>12} {'unrouted':>8}"
    )
    print(header)
    for a in approaches:
        p50_1, p99_1 = _cuts(a.waits_1)
        p50_n, p99_n = _cuts(a.waits_n)
        print(
            f"{a.label:<44} {f'{p50_1:.2f} / {p99_1:.2f}':>15} {f'{p50_n:.2f} / {p99_n:.2f}':>16} "
            f"{statistics.median(a.rates):>8.0f} {statistics.median(a.server_cpu):>8.2f}ms "
            f"{statistics.median(a.asterisk_cpu):>10.2f}ms {a.unrouted.total():>8}",
            flush=True,
        )
    for a in approaches:
        if a.unrouted:
            ends = ", ".join(f"{n} ended {status or '-'}" for status, n in a.unrouted.most_common())
            print(f"asterisk: {a.name}: calls that reached no agent through the router: {ends}", flush=True)
    by = {a.name: a for a in approaches}
    minimal = by["minimal"]
    _, m99_1 = _cuts(minimal.waits_1)
    _, m99_n = _cuts(minimal.waits_n)
    m_rate, m_cpu = statistics.median(minimal.rates), statistics.median(minimal.server_cpu)
    for name in ("dial-1", f"dial-{WORKERS}", "advise", "dial-1-base", "advise-base"):
        if name not in by:
            continue
        a = by[name]
        floor = 0.6 if name.startswith("advise") else 0.8
        ratios = [
            ("p99 @1", _cuts(a.waits_1)[1] / m99_1, "<=", 1.5),
            (f"p99 @{INFLIGHT}", _cuts(a.waits_n)[1] / m99_n, "<=", 1.5),
            ("capacity", statistics.median(a.rates) / m_rate, ">=", floor),
            ("server CPU/call", statistics.median(a.server_cpu) / m_cpu, "<=", 2.0),
        ]
        text = "; ".join(
            f"{what} {ratio:.2f}x (goal {op} {goal}x: {_verdict(ratio, op, goal)})"
            for what, ratio, op, goal in ratios
        )
        print(f"asterisk: {name} against minimal: {text}", flush=True)
    for name in ("dial-1", "advise"):
        if f"{name}-base" in by:
            a, b = by[name], by[f"{name}-base"]
            print(
                f"asterisk: {name} against its base tree: server CPU/call "
                f"{statistics.median(a.server_cpu) / statistics.median(b.server_cpu):.2f}x, capacity "
                f"{statistics.median(a.rates) / statistics.median(b.rates):.2f}x, p99 @{INFLIGHT} "
                f"{_cuts(a.waits_n)[1] / _cuts(b.waits_n)[1]:.2f}x",
                flush=True,
            )


def _verdict(ratio: float, op: str, goal: float) -> str:
    return "met" if (ratio <= goal if op == "<=" else ratio >= goal) else "MISSED"
