"""`callkeeper web` and how the fronts' commands reach `callkeeper` without `router` importing a front."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

from router.cli.main import build_parser, front_modules, main

ROOT = Path(__file__).parent.parent


def imported_packages(package: str) -> set[str]:
    """The top-level packages a package's modules import."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_the_fronts_never_import_each_other_and_router_imports_neither() -> None:
    assert "agi" not in imported_packages("web")
    assert "web" not in imported_packages("agi")
    assert not {"agi", "web"} & imported_packages("router")


def test_the_fronts_commands_come_from_the_entry_point_group() -> None:
    assert {module.__name__ for module in front_modules()} == {"agi.cli", "web.cli"}
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"serve", "demo", "web", "user"} <= set(commands)


def test_web_refuses_a_listen_address_that_is_not_host_and_port(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", db_url, "web", "--listen", "127.0.0.1"]) == 5
    assert "--listen must be HOST:PORT" in capsys.readouterr().err


def test_web_refuses_a_timezone_that_does_not_exist(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLKEEPER_TIMEZONE", "Europe/Atlantis")
    assert main(["--db", db_url, "web"]) == 7
    assert "not a time zone" in capsys.readouterr().err


def test_web_help_names_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["web", "--help"])
    out = capsys.readouterr().out
    assert "--listen HOST:PORT" in out and "127.0.0.1:8080" in out


def test_web_says_plainly_when_its_address_is_taken(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--db", db_url, "web", "--listen", f"127.0.0.1:{port}"]) == 7
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
