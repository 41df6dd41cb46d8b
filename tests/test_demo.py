"""`callkeeper demo`, the README's main job, end to end on a small day, as a new user runs it."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agi.demo import demo
from agi.demo.demo_data import ZONE
from agi.demo.demo_report import OwnerReach, owner_reach
from router.routing.plan import OFFICE_POOL, OWNER

BIN = Path(sys.executable).parent
CALLKEEPER = str(BIN / "callkeeper")
README = Path(__file__).resolve().parent.parent / "README.md"
DAY = "2026-03-02"
SMALL_DAY = ["--calls", "120", "--households", "150", "--seed", "3", "--day", DAY]


def run_demo(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [CALLKEEPER, "demo", *options],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def small_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("demo") / "first"
    done = run_demo(folder, *SMALL_DAY)
    assert done.returncode == 0, done.stderr
    return folder, done


def rows(database: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(query).fetchall()


def test_demo_runs_a_day_and_leaves_the_ledger(
    small_day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, done = small_day
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert "The day: 120 calls from 09:00" in out
    assert "Calls by route:" in out and "owner" in out
    assert "Split report, policy equal" in out
    database = folder / "callkeeper-demo.db"
    assert f"The database is left in {database}" in out
    assert rows(database, "SELECT count(*) FROM decisions") == [(120,)]
    assert rows(database, "SELECT count(*) FROM attempts")[0][0] >= 100


def hint_lines(out: str) -> list[str]:
    after = out.split("Look further with:\n", 1)[1]
    return [line.strip() for line in after.splitlines() if line.startswith("  ")]


def test_every_command_the_demo_suggests_works_as_printed_from_anywhere(
    small_day: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """Each hint runs from another folder, exits 0 and prints rows: no `today`, no bare
    `callkeeper` that PATH lacks, no relative --db that would open a new empty file."""
    _, done = small_day
    hints = hint_lines(done.stdout)
    assert len(hints) >= 4
    for hint in hints:
        ran = subprocess.run(shlex.split(hint), cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, f"{hint}\n{ran.stderr}"
        assert len(ran.stdout.strip().splitlines()) >= 2, f"{hint} printed no rows:\n{ran.stdout}"
    assert list(tmp_path.iterdir()) == []  # none of them made a database where it ran
    assert done.stdout.rstrip().splitlines()[-1].endswith("make console")


def test_the_ledger_carries_the_simulated_days_times(
    small_day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, _ = small_day
    database = folder / "callkeeper-demo.db"
    decided = [
        datetime.fromisoformat(str(at)).replace(tzinfo=UTC).astimezone(ZONE)
        for (at,) in rows(database, "SELECT at FROM decisions ORDER BY id")
    ]
    assert {at.date() for at in decided} == {date.fromisoformat(DAY)}
    assert decided == sorted(decided)  # decided in the day's order
    assert decided[0].hour == 9 and decided[-1].hour >= 18  # a working day, not one real minute
    assert len({at.replace(second=0, microsecond=0) for at in decided}) > 60
    late = rows(
        database,
        "SELECT count(*) FROM attempts JOIN decisions ON decisions.id = attempts.decision_id "
        "WHERE attempts.started_at < decisions.at",
    )
    assert late == [(0,)]


def test_owner_reach_is_printed_apart_from_colleagues_covering_and_the_queue(
    small_day: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, done = small_day
    counts = {what: int(n) for n, what in re.findall(r"^ +(\d+) +\(\d+ %\)  (.+)$", done.stdout, re.M)}
    assert list(counts) == [
        "their manager was free and took the call",
        "their manager was free but did not pick up; a colleague took it",
        "their manager was on another call or paused; a colleague covered",
        "nobody could take it; the dialplan's queue did",
    ]
    total = re.search(r"^Calls from families who already have a manager: (\d+)$", done.stdout, re.M)
    assert total and sum(counts.values()) == int(total[1])
    assert "So: when a family's manager is free, the call goes to them first" in done.stdout


def test_owner_reach_separates_the_free_owner_from_a_covering_colleague() -> None:
    calls: list[tuple[str, int | None, int | None]] = [
        (OWNER, 1, 1),  # the owner was free and answered
        (OWNER, 1, 2),  # the owner was free, did not pick up; agent 2 did
        (OFFICE_POOL, 1, 3),  # the owner was busy or paused; agent 3 covered
        (OFFICE_POOL, 4, 5),
        (OWNER, 1, None),  # nobody answered: the queue
        (OFFICE_POOL, 1, None),
    ]
    assert owner_reach(calls) == OwnerReach(free_took_it=1, free_missed=1, away_covered=2, queued=2)


def comparable(out: str, folder: Path) -> list[str]:
    """The printed day without what the machine measured (the port, timings)."""
    kept = []
    for line in out.replace(str(folder), "<folder>").splitlines():
        if line.startswith("Measured on this machine"):
            break
        if not line.startswith("FastAGI server on 127.0.0.1:"):
            kept.append(line)
    return kept


def ledger_of(folder: Path) -> tuple[str, list[tuple[object, ...]]]:
    database = folder / "callkeeper-demo.db"
    listed = subprocess.run(
        [CALLKEEPER, "--db", str(database), "ledger", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    attempts = rows(
        database,
        "SELECT decision_id, seq, agent_id, reason, started_at, status, ring_seconds, talk_seconds, "
        "covering_for_id FROM attempts ORDER BY decision_id, seq",
    )
    households = rows(database, "SELECT id, name, owner_id, origin FROM households ORDER BY id")
    return listed, attempts + households


def test_the_same_seed_gives_the_same_day(
    small_day: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """Two runs (in other folders, other processes, other hash seeds) print the same
    figures and leave the same ledger: calls, times, routes, owners, who answered."""
    first_folder, first = small_day
    second_folder = tmp_path / "second"
    second = run_demo(second_folder, *SMALL_DAY)
    assert second.returncode == 0, second.stderr
    assert comparable(first.stdout, first_folder) == comparable(second.stdout, second_folder)
    first_ledger, second_ledger = ledger_of(first_folder), ledger_of(second_folder)
    # decide_ms is the server's own wall-clock measure of each decision, not the day's.
    first_calls, second_calls = (
        [{k: v for k, v in call.items() if k != "decide_ms"} for call in json.loads(ledger[0])]
        for ledger in (first_ledger, second_ledger)
    )
    assert len(first_calls) == len(second_calls)
    differ = [pair for pair in zip(first_calls, second_calls, strict=True) if pair[0] != pair[1]]
    assert not differ, json.dumps(differ, indent=1)
    assert first_ledger[1] == second_ledger[1]


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


@pytest.mark.slow
def test_one_ctrl_c_stops_the_demo_cleanly(tmp_path: Path) -> None:
    """Ctrl-C mid-day (SIGINT to the whole process group, as a terminal sends it): no
    traceback, exit 130, the fake's process ends, no agent is left claimed and every
    call in the ledger is whole."""
    process = subprocess.Popen(
        [CALLKEEPER, "demo", "--calls", "20000", "--households", "300", "--day", DAY],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
    )
    assert process.stderr is not None
    progress = process.stderr.readline()  # the first tenth of the calls is over
    assert progress.endswith("/20000 calls\n"), progress
    children = children_of(process.pid)
    assert children  # the fake Asterisk's process, at least
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group gets it
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in out + err
    assert "Stopped (Ctrl-C): the server and the fake Asterisk are stopped" in err
    deadline = time.monotonic() + 30
    while not all(gone(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(child) for child in children)
    database = tmp_path / "callkeeper-demo.db"
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]
    assert rows(database, "SELECT count(*) FROM agents WHERE claimed_by IS NOT NULL") == [(0,)]
    decided = rows(database, "SELECT count(*) FROM decisions")[0][0]
    assert 2000 <= int(str(decided)) < 20000
    unended = rows(
        database,
        "SELECT count(*) FROM decisions d WHERE d.route != 'fallback' AND NOT EXISTS "
        "(SELECT 1 FROM attempts a WHERE a.decision_id = d.id)",
    )
    assert unended == [(0,)]


def test_a_caller_who_finds_every_line_taken_waits_for_one(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--calls", "80", "--households", "100", "--concurrency", "2", "--day", DAY)
    assert done.returncode == 0, done.stderr
    found = re.search(r"busiest moment (\d+) calls at once on 2 lines; (\d+) callers waited", done.stdout)
    assert found and int(found[1]) == 2 and int(found[2]) > 0, done.stdout
    calls = rows(
        tmp_path / "callkeeper-demo.db",
        "SELECT d.at, max(julianday(a.started_at) * 86400 + a.ring_seconds + a.talk_seconds) "
        "FROM decisions d LEFT JOIN attempts a ON a.decision_id = d.id GROUP BY d.id",
    )
    assert len(calls) == 80
    moments = []
    for at, end in calls:
        start = datetime.fromisoformat(str(at)).replace(tzinfo=UTC).timestamp()
        finish = float(str(end)) - 2440587.5 * 86400 if end is not None else start
        moments += [(round(start, 3), 1), (round(finish, 3), -1)]  # julianday keeps about 0.1 ms
    in_progress = busiest = 0
    for _, step in sorted(moments, key=lambda m: (m[0], m[1])):
        in_progress += step
        busiest = max(busiest, in_progress)
    assert busiest <= 2  # never more calls with a manager than lines


def test_demo_refuses_nonsense_counts(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--calls", "0")
    assert done.returncode == 5
    assert done.stderr == "error: --calls must be at least 1\n"
    assert "Traceback" not in done.stderr


def test_demo_refuses_a_day_that_has_not_passed(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--day", datetime.now(ZONE).date().isoformat())
    assert done.returncode == 2
    assert "is not before today" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_readme_promises_the_lines_the_demo_uses() -> None:
    section = README.read_text(encoding="utf-8").split("## What `make demo` shows", 1)[1].split("\n## ", 1)[0]
    assert f"{demo.LINES} lines" in section
    assert os.path.basename(demo.DEFAULT_DB) in section
