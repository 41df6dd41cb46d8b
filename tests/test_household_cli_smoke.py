"""The admin CLI end to end on a real database: the happy path of a day's admin work."""

import json

import pytest

from tests.helpers import run_cli


def test_household_with_spouse_number_is_found_by_either_number(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    assert run_cli(capsys, db_url, "office", "add", "msk", "--line", "+74951234567").code == 0
    assert (
        run_cli(capsys, db_url, "agent", "add", "ivanova", "--office", "msk", "--dial", "PJSIP/101").code == 0
    )
    added = run_cli(
        capsys,
        db_url,
        "household",
        "add",
        "--name",
        "Ивановы",
        "--member",
        "Иванова Мария",
        "--number",
        "8 916 123-45-67",
        "--number",
        "+7 916 765 43 21=spouse",
        "--owner",
        "ivanova",
    )
    assert added.code == 0, added.err
    household_id = int(added.out)
    shown = run_cli(capsys, db_url, "household", "show", "89167654321", "--json")
    data = json.loads(shown.out)
    assert data["id"] == household_id
    assert data["owner"] == "ivanova"
    assert data["numbers"] == [
        {"number": "+79161234567", "label": "mobile"},
        {"number": "+79167654321", "label": "spouse"},
    ]
    assert data["members"] == ["Иванова Мария"]


def test_bad_input_is_one_line_error_without_traceback(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    result = run_cli(capsys, db_url, "agent", "add", "x", "--office", "nope", "--dial", "PJSIP/1")
    assert result.code == 3
    assert result.err == "error: no office 'nope'\n"
    assert "Traceback" not in result.err
