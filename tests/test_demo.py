"""`callkeeper demo`, the README's main job, end to end on a small day."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from router.storage.db import Database
from router.storage.models import Attempt, Decision

BIN = Path(sys.executable).parent


def test_demo_runs_a_day_and_leaves_the_ledger(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "callkeeper"), "demo", "--calls", "120", "--households", "150", "--seed", "3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert "120 calls in" in out
    assert "Calls by route:" in out and "owner" in out
    assert "Known callers who reached their own manager:" in out
    assert "Split report, policy equal" in out
    database = tmp_path / "callkeeper-demo.db"
    assert f"The database is left in {database}" in out
    db = Database(f"sqlite:///{database}")
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 120
        assert (s.scalar(select(func.count()).select_from(Attempt)) or 0) >= 100
    db.dispose()
    # The commands the demo suggests work on what it left.
    ledger = subprocess.run(
        [str(BIN / "callkeeper"), "--db", str(database), "ledger", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ledger.returncode == 0 and ledger.stdout.lstrip().startswith("[")


def test_demo_refuses_nonsense_counts(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "callkeeper"), "demo", "--calls", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 5
    assert done.stderr == "error: --calls must be at least 1\n"
    assert "Traceback" not in done.stderr
