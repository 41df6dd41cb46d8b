"""The call front's SQLite WAL is checkpointed by a thread of its own, not by a caller's commit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import text

from router.directory import audit
from router.storage.db import Database

WRITES = 1500
PAYLOAD = "x" * 4000  # about a page per write


def _write(db: Database) -> None:
    """Writes a millisecond apart, as calls come in: steady, never idle for long."""
    for n in range(WRITES):
        with db.transaction() as connection:
            audit.record(connection, "test", household=None, subject=str(n), after=PAYLOAD, actor="t")
        time.sleep(0.001)


def _wal_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_background_checkpoints_keep_the_wal_small_without_autocheckpoint(tmp_path: Path) -> None:
    path = tmp_path / "front.db"
    db = Database(str(path), checkpoint_seconds=0.02, wal_restart_pages=100)
    try:
        db.ensure_schema()
        with db.transaction() as connection:
            assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
        _write(db)
        # Without checkpoints the WAL would hold every write (and SQLite's own
        # autocheckpoint is off): started over every 100 pages or so, it stays
        # a fraction of that.
        assert _wal_bytes(path) < WRITES * len(PAYLOAD) / 4
    finally:
        db.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM audit").fetchone() == (WRITES,)


def test_without_the_thread_autocheckpoint_stays_sqlites(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "admin.db"))
    try:
        db.ensure_schema()
        with db.transaction() as connection:
            assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    finally:
        db.dispose()
