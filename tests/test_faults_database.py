"""A database that hangs while calls are past their decision: every step has
a deadline and the call goes on; after the hang, agents who are talking are
not handed to new calls; a SQLite file moved away shows on /readyz."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from agi import app
from agi.app import FrontEnd
from agi.fake.fakepbx import ANSWER, NOANSWER, Answer, CallRecord, FakePbx, scripted
from router.storage.db import Database
from router.storage.models import Attempt
from tests.agency import DIAL, IVANOV_MOBILE, IVANOV_SPOUSE, PETROV_MOBILE

StartFront = Callable[..., FrontEnd]


@contextlib.contextmanager
def writes_blocked(db_url: str) -> Iterator[None]:
    """Another connection holds the write lock (SQLite) or the agents and attempts tables (PostgreSQL)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database), isolation_level=None, timeout=10)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        conn.execute("LOCK TABLE agents, attempts, decisions IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def _attempts(db_url: str) -> int:
    db = Database(db_url)
    try:
        with db.reader() as session:
            return int(session.scalar(select(func.count()).select_from(Attempt)) or 0)
    finally:
        db.dispose()


@pytest.mark.slow
def test_a_hung_database_after_the_decision_does_not_hold_the_caller(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    dialling, locked = threading.Event(), threading.Event()

    def agents(dial: str, timeout: int) -> Answer:
        if not dialling.is_set():
            dialling.set()
            locked.wait(10)
            return Answer(NOANSWER, 0, 0)
        return Answer(ANSWER, 0, 1)

    result: list[CallRecord] = []
    call = threading.Thread(
        target=lambda: result.append(FakePbx(*front.address, agents).call(IVANOV_MOBILE, args=["msk"]))
    )
    call.start()
    assert dialling.wait(10)
    with writes_blocked(db_url):
        locked.set()
        # Record the first attempt, claim the next agents: each step gives up at
        # its deadline, and the call ends while the database is still locked.
        call.join(8)
        ended_while_locked = not call.is_alive()
    call.join(10)
    assert ended_while_locked
    assert result[0].status == "NOANSWER"  # no agent could be claimed: the dialplan's queue
    # Nothing lost: the first attempt lands late, or from the spool.
    give_up = time.monotonic() + 15
    while _attempts(db_url) == 0 and time.monotonic() < give_up:
        front.housekeeping()
        time.sleep(0.2)
    assert _attempts(db_url) == 1


@pytest.mark.slow
def test_after_a_database_hang_agents_who_are_talking_are_not_given_away(
    db_url: str, agency: dict[str, int], start_front: StartFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "CLAIM_HEARTBEAT_SECONDS", 1.0)
    monkeypatch.setattr(app, "CLAIM_HEARTBEAT_TTL", 1.5)
    monkeypatch.setattr(app, "CLAIM_RENEW_OVERDUE_SECONDS", 2.0, raising=False)
    # A claim at the dial lasts 2 s; then only the heartbeat (1 s ahead) keeps it.
    front = start_front(claim_ttl_seconds=2)
    talking = FakePbx(
        *front.address, scripted({}, Answer(ANSWER, ring_seconds=0, talk_seconds=600)), time_scale=0.05
    )
    first = threading.Thread(
        target=talking.call, args=(IVANOV_MOBILE,), kwargs={"args": ["msk"]}, daemon=True
    )
    first.start()
    give_up = time.monotonic() + 10
    while not front.flow.live_calls() and time.monotonic() < give_up:
        time.sleep(0.02)
    assert front.flow.live_calls()
    time.sleep(2.5)
    with writes_blocked(db_url):
        time.sleep(3.5)  # longer than the claim's TTL: it has lapsed in the database
    time.sleep(0.2)  # the heartbeat that waited out the lock is through, the next not yet due
    # The household's second number: the owner (talking on the first call) comes first in its plan.
    second = FakePbx(*front.address, scripted({}, Answer(ANSWER, 0, 1))).call(IVANOV_SPOUSE, args=["msk"])
    assert second.status == "ANSWERED", (second.dials, second.status)
    assert DIAL["ivanova"] not in [dial for dial, _timeout, _status in second.dials]
    others = FakePbx(*front.address, scripted({}, Answer(ANSWER, 0, 1))).call(PETROV_MOBILE, args=["msk"])
    assert DIAL["ivanova"] not in [dial for dial, _timeout, _status in others.dials]


def test_a_sqlite_file_moved_away_shows_on_readyz_and_in_the_log(
    backend: str,
    db_url: str,
    agency: dict[str, int],
    start_front: StartFront,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if backend != "sqlite":
        pytest.skip("a SQLite file only")
    front = start_front()
    assert front.ops is not None
    readyz = f"http://{front.ops.address[0]}:{front.ops.address[1]}/readyz"
    with urllib.request.urlopen(readyz, timeout=5) as answer:
        assert answer.status == 200
    path = Path(str(make_url(db_url).database))
    os.rename(path, path.with_name("moved.db"))
    with pytest.raises(urllib.error.HTTPError) as not_ready:
        urllib.request.urlopen(readyz, timeout=5)
    assert not_ready.value.code == 503
    assert "no longer" in not_ready.value.read().decode()
    front.housekeeping()
    assert any("no longer" in r.getMessage() for r in caplog.records)
