"""`make console`'s demo admin: created when missing, given a fresh working password otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.accounts import sessions
from router.storage.db import Database, utcnow
from web import demo_admin


def can_log_in(db: Database, password: str) -> bool:
    with db.unit_of_work() as s:
        found = sessions.log_in(
            s, demo_admin.LOGIN, password, address="127.0.0.1", now=utcnow(), policy=sessions.SessionPolicy()
        )
    return found is not None and found.user.role == "admin"


def test_make_console_creates_the_demo_admin_and_prints_a_password_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "callkeeper-demo.db"
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    try:
        assert demo_admin.main([str(path), "--listen", "127.0.0.1:8099"]) == 0
        out = capsys.readouterr().out
        password = next(line.split()[-1] for line in out.splitlines() if line.strip().startswith("password"))
        assert "http://127.0.0.1:8099/" in out and can_log_in(db, password)
        assert demo_admin.main([str(path)]) == 0
        again = next(line.split()[-1] for line in capsys.readouterr().out.splitlines() if "password" in line)
        assert again != password and can_log_in(db, again) and not can_log_in(db, password)
    finally:
        db.dispose()


def test_make_console_without_the_demo_database_says_to_run_make_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo_admin.main([str(tmp_path / "missing.db")]) == 3
    assert "run `make demo` first" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()
