"""--household takes an id or any number of the household, everywhere; a missing one is exit 3."""

from __future__ import annotations

import json

import pytest

from router.errors import ExitCode
from router.storage.db import Database
from tests.helpers import run_cli
from tests.routing_helpers import NUMBER, SPOUSE, center, household, new_call


def test_a_number_names_its_household_in_ledger(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER, SPOUSE)
    router.decide(new_call(NUMBER))
    router.decide(new_call("+79035550101"))
    result = run_cli(capsys, db.url, "ledger", "--household", "8 916 765-43-21", "--json")
    assert result.code == 0, result.err
    assert [e["household"] for e in json.loads(result.out)] == [hid]


def test_a_number_names_its_household_in_audit(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    center(db)
    hid = household(db, "m1", NUMBER)
    household(db, "m2", SPOUSE)
    result = run_cli(capsys, db.url, "audit", "--household", NUMBER, "--json")
    assert result.code == 0, result.err
    assert {e["household"] for e in json.loads(result.out)} == {hid}


@pytest.mark.parametrize(
    "command",
    [
        ("ledger",),
        ("audit",),
        ("splits",),
        ("timeline",),
        ("booking", "list"),
    ],
)
@pytest.mark.parametrize("ref", ["999", "+79990000000"])
def test_a_missing_household_is_exit_3_with_a_clear_message(
    db: Database, capsys: pytest.CaptureFixture[str], command: tuple[str, ...], ref: str
) -> None:
    center(db)
    household(db, "m1", NUMBER)
    argv = [*command, ref] if command == ("timeline",) else [*command, "--household", ref]
    result = run_cli(capsys, db.url, *argv)
    assert result.code == ExitCode.NOT_FOUND
    assert result.err.startswith("error: no household") and "Traceback" not in result.err


def test_a_household_merged_away_still_names_its_trail(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    center(db)
    keep = household(db, "m1", NUMBER)
    other = household(db, "m1", SPOUSE)
    assert run_cli(capsys, db.url, "household", "merge", str(keep), str(other)).code == 0
    result = run_cli(capsys, db.url, "audit", "--household", str(other), "--json")
    assert result.code == 0, result.err
    # A merged id names the surviving family's trail, which carries the merged household's own rows.
    trail = json.loads(result.out)
    assert sorted(e["action"] for e in trail) == ["create", "create", "merge", "merge"]
    assert {e["household"] for e in trail} == {keep, other}
