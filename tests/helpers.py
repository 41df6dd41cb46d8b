"""Shared test helpers: run the CLI in-process and read what it printed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from router.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], db_url: str, *argv: str) -> Result:
    capsys.readouterr()
    code = main(["--db", db_url, "--actor", "tester", *argv])
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
