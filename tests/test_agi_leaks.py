"""A thousand abandoned calls leave the server as they found it: no thread, no
open file, no claim left behind."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from sqlalchemy import func, select

from agi.app import FrontEnd
from agi.fake.fakepbx import Answer, CallerHangup, FakePbx, scripted
from router.storage.db import Database
from router.storage.models import Agent
from tests.agency import IVANOV_MOBILE

StartFront = Callable[..., FrontEnd]
ABANDONED_CALLS = 1000
# A SQLite connection holds the database, its WAL and its shared-memory file.
FILES_PER_CONNECTION = {"sqlite": 3, "postgresql": 1}


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> tuple[int, int]:
    """Session threads (a pool the server keeps, bounded by max_calls), and all others."""
    names = [t.name for t in threading.enumerate()]
    sessions = sum(name.startswith("agi-session") for name in names)
    return sessions, len(names) - sessions


def pooled_connections(front: FrontEnd) -> int:
    pool = front.db.engine.pool
    return int(pool.checkedin() + pool.checkedout())  # type: ignore[attr-defined]


def test_thousand_abandoned_calls_leak_no_thread_or_file(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer()))

    def abandon(calls: range) -> None:
        for i in calls:
            hangup = CallerHangup(while_idle=True) if i % 2 else CallerHangup(during_dial=1)
            record = pbx.call(IVANOV_MOBILE if i % 3 else f"+7999{i:07d}", args=["msk"], hangup=hangup)
            assert record.agistatus == "HANGUP"
        assert front.server.wait_idle(10)

    # Warm up with the same mix: the decision pool and the database connection
    # pool open what they keep on first use.
    abandon(range(100))
    (sessions, others), files, pooled = threads(), open_files(), pooled_connections(front)
    abandon(range(100, 100 + ABANDONED_CALLS))
    now_sessions, now_others = threads()
    assert now_others == others
    # One call at a time: a session thread is reused once idle, and the pool
    # starts another only when a call comes in before the last one's thread
    # has finished its bookkeeping. A thread per call would show as hundreds.
    assert now_sessions <= sessions + 2
    # The connection pool may open one more connection it then keeps (bounded by
    # its size); a leak per call would show as hundreds of descriptors.
    grown = pooled_connections(front) - pooled
    assert open_files() - files <= grown * FILES_PER_CONNECTION[front.db.backend]
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(Agent).where(Agent.claimed_by.is_not(None))) == 0
