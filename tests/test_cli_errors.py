"""The `callkeeper` command as installed: help everywhere, schema upgrades, and
databases that cannot be opened reported in one line with exit 6, never a traceback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from router.cli.main import build_parser, main
from tests.helpers import run_cli

CALLKEEPER = Path(sys.executable).with_name("callkeeper")


def callkeeper(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLKEEPER_")}
    return subprocess.run(
        [str(CALLKEEPER), "--actor", "tester", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path of the parser: ('office',), ('office', 'add'), ..."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name)
                yield from commands(sub, (*path, name))


ALL_COMMANDS = sorted(commands(build_parser()))


def test_the_admin_commands_are_all_there() -> None:
    for expected in [
        ("db", "upgrade"),
        ("office", "add"),
        ("office", "list"),
        ("agent", "add"),
        ("agent", "state"),
        ("agent", "list"),
        ("household", "add"),
        ("household", "show"),
        ("household", "list"),
        ("household", "merge"),
        ("household", "transfer"),
        ("number", "link"),
        ("number", "unlink"),
        ("import",),
        ("export",),
        ("audit",),
    ]:
        assert expected in ALL_COMMANDS


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], path: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: callkeeper {' '.join(path)}")
    description = out.split("\n\n")[1].strip()
    assert description and not description.startswith(("positional arguments", "options"))


def test_the_installed_script_shows_help_and_version() -> None:
    result = callkeeper("--help")
    assert result.returncode == 0 and "household" in result.stdout
    version = callkeeper("--version")
    assert (version.returncode, version.stdout.startswith("callkeeper ")) == (0, True)


def test_usage_errors_exit_2_without_traceback() -> None:
    for argv in (["household"], ["agent", "add", "x"], ["frobnicate"], ["household", "merge", "1", "two"]):
        result = callkeeper(*argv)
        assert result.returncode == 2, argv
        assert "Traceback" not in result.stderr
        assert "error:" in result.stderr.splitlines()[-1]


def test_db_upgrade_creates_the_schema_on_a_new_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    for _ in range(2):
        result = callkeeper("db", "upgrade", "--db", f"sqlite:///{path}")
        assert (result.returncode, result.stdout, result.stderr) == (0, "schema is up to date\n", "")
    engine = create_engine(f"sqlite:///{path}")
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()
    assert {"offices", "agents", "households", "numbers", "audit", "alembic_version"} <= tables


def test_db_upgrade_on_a_migrated_database_is_a_no_op(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    result = run_cli(capsys, db_url, "db", "upgrade")
    assert (result.code, result.out) == (0, "schema is up to date\n")
    assert run_cli(capsys, db_url, "office", "add", "msk").code == 0


def test_any_command_upgrades_an_empty_database_by_itself(tmp_path: Path) -> None:
    (tmp_path / "callkeeper.db").touch()
    result = callkeeper("office", "list", "--json", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")
    assert (tmp_path / "callkeeper.db").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:////nonexistent/folder/x.db", "error: cannot open /nonexistent/folder/x.db: folder "),
        ("postgresql+psycopg://nobody:wrong@127.0.0.1:1/none", "error: database unavailable: "),
    ],
)
def test_a_database_that_cannot_be_opened_is_exit_6(url: str, message: str) -> None:
    result = callkeeper("--db", url, "household", "list")
    assert result.returncode == 6
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_file_that_is_not_a_database_is_exit_6(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database, just some text" * 200)
    result = callkeeper("--db", str(path), "office", "add", "msk")
    assert result.returncode == 6
    assert result.stderr == "error: database unavailable: file is not a database\n"


def test_an_unsupported_or_malformed_url_is_invalid_input() -> None:
    result = callkeeper("--db", "mysql://x/y", "office", "list")
    assert (result.returncode, result.stderr) == (
        5,
        "error: unsupported database 'mysql': use sqlite or postgresql\n",
    )


def test_a_conflict_through_the_installed_script_is_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ck.db'}"
    assert callkeeper("--db", db, "db", "upgrade").returncode == 0
    assert callkeeper("--db", db, "office", "add", "msk").returncode == 0
    result = callkeeper("--db", db, "office", "add", "msk")
    assert (result.returncode, result.stderr) == (4, "error: office 'msk' already exists\n")
