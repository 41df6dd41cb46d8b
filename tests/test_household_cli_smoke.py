"""The admin CLI end to end on a real database: the happy path of a day's admin work."""

import getpass
import json
from collections.abc import Callable
from typing import Any

import pytest

from router.cli.main import main
from tests.helpers import Result, run_cli


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


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], db_url: str) -> Callable[..., Result]:
    """`cli(*argv)` runs one command on a database with office msk, agents ivanova and petrov."""

    def run(*argv: str) -> Result:
        return run_cli(capsys, db_url, *argv)

    assert run("office", "add", "msk").code == 0
    for i, login in enumerate(("ivanova", "petrov")):
        assert run("agent", "add", login, "--office", "msk", "--dial", f"PJSIP/10{i}").code == 0
    return run


def audit_rows(cli: Callable[..., Result], household: int | None = None) -> list[dict[str, Any]]:
    argv = ["audit", "--json"] + (["--household", str(household)] if household else [])
    result = cli(*argv)
    assert result.code == 0, result.err
    rows: list[dict[str, Any]] = json.loads(result.out)
    return rows


def new_household(cli: Callable[..., Result], *args: str) -> int:
    result = cli("household", "add", *args)
    assert result.code == 0, result.err
    return int(result.out)


def test_link_refusal_then_move_via_cli(cli: Callable[..., Result]) -> None:
    owned = new_household(cli, "--number", "89161234567", "--owner", "ivanova")
    other = new_household(cli, "--number", "89031112233")
    refused = cli("number", "link", "8 916 123 45 67", str(other))
    assert refused.code == 4
    assert refused.err == (
        f"error: number +79161234567 belongs to household {owned} “without a name” (owner ivanova); "
        "use --move to move it\n"
    )
    moved = cli(
        "number", "link", "8 916 123 45 67", str(other), "--move", "--label", "home", "--reason", "sold"
    )
    assert (moved.code, moved.out) == (0, f"+79161234567 linked to household {other}\n")
    shown = json.loads(cli("household", "show", "+79161234567", "--json").out)
    assert shown["id"] == other
    assert {"number": "+79161234567", "label": "home"} in shown["numbers"]
    [row] = [r for r in audit_rows(cli, owned) if r["action"] == "move"]
    assert row["before"] == f"household {owned}" and row["after"] == f"household {other}"
    assert (row["reason"], row["actor"], row["subject"]) == ("sold", "tester", "+79161234567")


def test_unlink_merge_transfer_exclude_via_cli(cli: Callable[..., Result]) -> None:
    keep = new_household(cli, "--number", "89161234567", "--owner", "ivanova", "--member", "Иванова Мария")
    other = new_household(cli, "--number", "89031112233", "--owner", "petrov", "--member", "Иванов Пётр")
    unlinked = cli("number", "unlink", "+7 903 111-22-33")
    assert (unlinked.code, unlinked.out) == (0, f"+79031112233 unlinked from household {other}\n")
    again = cli("number", "unlink", "+7 903 111-22-33")
    assert (again.code, again.err) == (3, "error: number +79031112233 is not linked to any household\n")

    merged = cli("household", "merge", str(keep), str(other), "--owner", "petrov", "--reason", "one family")
    assert (merged.code, merged.out) == (0, f"household {other} merged into {keep} (owner petrov)\n")
    shown = json.loads(cli("household", "show", str(keep), "--json").out)
    assert shown["members"] == ["Иванова Мария", "Иванов Пётр"]
    assert shown["owner"] == "petrov"
    gone = cli("household", "show", str(other))
    assert gone.code == 3 and gone.err.startswith(f"error: household {other} was merged into {keep} on ")

    missing_reason = cli("household", "transfer", str(keep), "ivanova", "--reason", " ")
    assert (missing_reason.code, missing_reason.err) == (5, "error: an ownership change needs a reason\n")
    moved = cli("household", "transfer", str(keep), "ivanova", "--reason", "petrov left")
    assert (moved.code, moved.out) == (0, f"household {keep} now belongs to ivanova\n")
    excluded = cli("household", "exclude", str(keep), "petrov", "--reason", "conflict")
    assert excluded.code == 0

    # The merged household's trail is the survivor's, under either id.
    actions = [(r["action"], r["household"]) for r in audit_rows(cli, keep)]
    assert actions == [
        ("create", keep),
        ("create", other),
        ("unlink", other),
        ("merge", keep),
        ("merge", other),
        ("owner", keep),
        ("transfer", keep),
        ("exclude", keep),
    ]
    assert audit_rows(cli, other) == audit_rows(cli, keep)
    [transfer] = [r for r in audit_rows(cli, keep) if r["action"] == "transfer"]
    assert (transfer["before"], transfer["after"], transfer["reason"], transfer["actor"]) == (
        "petrov",
        "ivanova",
        "petrov left",
        "tester",
    )
    assert transfer["at"].endswith("+00:00")


def test_household_show_and_list_json_are_stable(cli: Callable[..., Result]) -> None:
    hid = new_household(
        cli,
        "--name",
        "Ивановы",
        "--member",
        "Иванова Мария",
        "--number",
        "89161234567=home",
        "--owner",
        "ivanova",
        "--email",
        "m@example.ru",
        "--address",
        "Москва",
    )
    shown = json.loads(cli("household", "show", str(hid), "--json").out)
    assert list(shown) == [
        "id",
        "name",
        "owner",
        "members",
        "numbers",
        "email",
        "address",
        "created_at",
        "last_contact_at",
        "co_owners",
        "owners_mode",
    ]
    assert shown["numbers"] == [{"number": "+79161234567", "label": "home"}]
    assert shown["last_contact_at"] is None
    second = new_household(cli, "--number", "89031112233", "--owner", "petrov")
    listed = json.loads(cli("household", "list", "--json").out)
    assert [h["id"] for h in listed] == [hid, second]
    assert listed[0] == shown
    by_owner = json.loads(cli("household", "list", "--owner", "petrov", "--json").out)
    assert [h["id"] for h in by_owner] == [second]
    text = cli("household", "show", "8 916 123 45 67").out
    assert f"household {hid}: Ивановы" in text and "+79161234567 (home)" in text
    table = cli("household", "list").out.splitlines()
    assert table[0].split() == ["ID", "NAME", "OWNER", "MEMBERS", "NUMBERS"]
    assert len(table) == 3


def test_household_owners_sets_co_owners_audited_and_one_login_clears_them(
    cli: Callable[..., Result],
) -> None:
    hid = new_household(cli, "--number", "89161234567", "--owner", "ivanova")
    done = cli("household", "owners", str(hid), "ivanova", "petrov", "--mode", "equal", "--reason", "вдвоём")
    assert (done.code, done.out) == (0, f"household {hid} belongs to ivanova, petrov (equal)\n")
    shown = json.loads(cli("household", "show", str(hid), "--json").out)
    assert (shown["owner"], shown["co_owners"], shown["owners_mode"]) == ("ivanova", ["petrov"], "equal")
    assert "co-owners:    petrov (equal)" in cli("household", "show", str(hid)).out
    [row] = [r for r in audit_rows(cli, hid) if r["action"] == "owners"]
    assert (row["before"], row["after"], row["reason"], row["actor"]) == (
        "ivanova",
        "ivanova,petrov (equal)",
        "вдвоём",
        "tester",
    )
    cleared = cli("household", "owners", str(hid), "petrov", "--reason", "ivanova ушла")
    assert (cleared.code, cleared.out) == (0, f"household {hid} belongs to petrov; no co-owners\n")
    shown = json.loads(cli("household", "show", str(hid), "--json").out)
    assert (shown["owner"], shown["co_owners"]) == ("petrov", [])
    assert cli("household", "owners", str(hid), "ghost", "--reason", "x").err == "error: no agent 'ghost'\n"
    assert cli("household", "owners", "999", "petrov", "--reason", "x").code == 3
    for usage in (["petrov"], ["petrov", "--mode", "both", "--reason", "x"]):  # --reason needed; no such mode
        with pytest.raises(SystemExit) as exited:
            cli("household", "owners", str(hid), *usage)
        assert exited.value.code == 2


@pytest.mark.parametrize(
    ("argv", "code", "err"),
    [
        (
            ["household", "add", "--number", "12345"],
            5,
            "error: '12345' is not a valid phone number (default region RU)\n",
        ),
        (
            ["household", "add", "--number", "89161234567=fax"],
            5,
            "error: label must be one of mobile, home, spouse, work, other, not 'fax'\n",
        ),
        (["household", "add", "--owner", "ghost"], 3, "error: no agent 'ghost'\n"),
        (["number", "link", "89161234567", "999"], 3, "error: no household 999\n"),
        (["number", "link", "abc", "1"], 5, "error: 'abc' is not a valid phone number (default region RU)\n"),
        (["household", "show", "+79990001122"], 3, "error: no household has number +79990001122\n"),
        (["household", "transfer", "999", "ivanova", "--reason", "x"], 3, "error: no household 999\n"),
        (["household", "merge", "999", "998"], 3, "error: no household 999\n"),
        (["household", "list", "--owner", "ghost"], 3, "error: no agent 'ghost'\n"),
    ],
)
def test_household_refusals_are_one_line_errors_that_change_nothing(
    cli: Callable[..., Result], argv: list[str], code: int, err: str
) -> None:
    result = cli(*argv)
    assert (result.code, result.err, result.out) == (code, err, "")
    assert json.loads(cli("household", "list", "--json").out) == []
    assert [r["action"] for r in audit_rows(cli)] == []


def test_actor_defaults_to_the_os_user(
    capsys: pytest.CaptureFixture[str], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALLKEEPER_ACTOR", raising=False)
    capsys.readouterr()
    assert main(["--db", db_url, "household", "add", "--number", "89161234567"]) == 0
    assert main(["household", "add", "--number", "89031112233", "--db", db_url, "--actor", "Мария"]) == 0
    capsys.readouterr()
    assert main(["--db", db_url, "audit", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["actor"] for r in rows] == [getpass.getuser(), "Мария"]


def test_audit_table_lists_who_did_what(cli: Callable[..., Result]) -> None:
    hid = new_household(cli, "--number", "89161234567", "--owner", "ivanova")
    assert cli("household", "transfer", str(hid), "petrov", "--reason", "отпуск").code == 0
    lines = cli("audit", "--household", str(hid)).out.splitlines()
    assert lines[0].split() == ["AT", "ACTION", "HOUSEHOLD", "SUBJECT", "BEFORE", "AFTER", "REASON", "ACTOR"]
    assert len(lines) == 3
    assert lines[2].split()[1:] == ["transfer", str(hid), "-", "ivanova", "petrov", "отпуск", "tester"]
