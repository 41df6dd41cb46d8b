"""No attempt is lost in a crash: `callkeeper serve` killed with SIGKILL during
answered calls leaves each of them in the ledger as UNKNOWN, with its start time."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agi.fake.fakepbx import Answer, FakePbx, scripted
from router.directory import offices
from router.routing import ledger
from router.storage.db import Database
from router.storage.models import Attempt
from tests.agency import MSK_LINE
from tests.test_serve_process import BIN, free_port, wait_for_port

CALLS = 10


def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


@pytest.mark.slow
def test_a_crash_during_answered_calls_leaves_each_attempt_as_unknown_with_its_start(
    db: Database, agency: dict[str, int], tmp_path: Path
) -> None:
    with db.unit_of_work() as s:
        for i in range(CALLS):
            offices.add_agent(s, f"extra{i}", office="msk", dial=f"PJSIP/3{i:02}")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "callkeeper"),
            "serve",
            "--db",
            db.url,
            "--listen",
            f"127.0.0.1:{port}",
            "--metrics",
            "off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env=os.environ.copy(),
    )
    try:
        wait_for_port(port, proc)
        # Every agent answers at once and talks for ten minutes of real time.
        pbx = FakePbx(
            "127.0.0.1", port, scripted({}, Answer(ring_seconds=0, talk_seconds=600)), time_scale=1.0
        )
        for i in range(CALLS):
            caller = f"+7916555{i:04}"
            threading.Thread(target=pbx.call, args=(caller,), kwargs={"dnid": MSK_LINE}, daemon=True).start()

        def talking() -> int:
            with db.reader() as s:
                return s.scalar(select(func.count()).select_from(Attempt)) or 0

        _until(lambda: talking() == CALLS, f"{CALLS} calls talking")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with db.reader() as s:
        entries = ledger.entries(s)
    assert len(entries) == CALLS
    for entry in entries:
        (attempt,) = entry.attempts
        assert attempt.status == "UNKNOWN"
        assert attempt.agent is not None and attempt.started_at >= entry.at
