"""Offices, lines and agents: each operation and its refusal, as functions and as commands."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from router.directory import offices
from router.errors import Conflict, InvalidInput, NotFound
from router.storage.db import Database
from router.storage.models import Agent, Office
from tests.helpers import run_cli


def count(db: Database, model: type) -> int:
    with db.reader() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_office_with_lines_normalizes_numbers_and_keeps_names(db: Database) -> None:
    with db.unit_of_work() as s:
        view = offices.add_office(s, "msk", name="Москва", lines=["8 (495) 123-45-67", "Sales"], region="RU")
    assert (view.code, view.name) == ("msk", "Москва")
    assert set(view.lines) == {"+74951234567", "sales"}
    with db.reader() as s:
        assert offices.office_for_line(s, "+7 495 123 45 67", "RU").code == "msk"
        assert offices.office_for_line(s, "SALES", "RU").code == "msk"
        assert offices.office_for_line(s, "msk", "RU").code == "msk"
        with pytest.raises(NotFound, match="no office has line"):
            offices.office_for_line(s, "+74950000000", "RU")


def test_office_refuses_duplicates_bad_codes_and_taken_lines(db: Database) -> None:
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", lines=["+74951234567"], region="RU")
    with pytest.raises(Conflict, match="office 'msk' already exists"), db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
    with pytest.raises(InvalidInput, match="must be letters"), db.unit_of_work() as s:
        offices.add_office(s, "m s k", region="RU")
    with pytest.raises(Conflict, match="already belongs to office 'msk'"), db.unit_of_work() as s:
        offices.add_office(s, "spb", lines=["84951234567"], region="RU")
    assert count(db, Office) == 1
    with pytest.raises(NotFound, match="no office 'spb'"), db.unit_of_work() as s:
        offices.add_line(s, "spb", "+78121234567", region="RU")


def test_agent_add_state_backup_and_list(db: Database) -> None:
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_office(s, "spb", region="RU")
        offices.add_agent(s, "petrov", office="spb", dial="SIP/202")
        view = offices.add_agent(
            s, "ivanova", office="msk", dial="PJSIP/101", name="Мария Иванова", backup="petrov"
        )
    assert (view.login, view.name, view.office, view.dial, view.backup, view.state) == (
        "ivanova",
        "Мария Иванова",
        "msk",
        "PJSIP/101",
        "petrov",
        "available",
    )
    with db.unit_of_work() as s:
        assert offices.set_agent_state(s, "ivanova", "paused").state == "paused"
        assert offices.set_agent_backup(s, "ivanova", None).backup is None
    with db.reader() as s:
        assert [a.login for a in offices.list_agents(s)] == ["ivanova", "petrov"]
        assert [(a.login, a.state) for a in offices.list_agents(s, "msk")] == [("ivanova", "paused")]


def test_agent_refusals_leave_nothing(db: Database) -> None:
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_agent(s, "ivanova", office="msk", dial="PJSIP/101")
    cases = [
        (Conflict, "agent 'ivanova' already exists", dict(login="ivanova", office="msk")),
        (NotFound, "no office 'nope'", dict(login="x", office="nope")),
        (NotFound, "no agent 'ghost'", dict(login="x", office="msk", backup="ghost")),
        (InvalidInput, "must be one word", dict(login="two words", office="msk")),
        (InvalidInput, "must look like TECH/RESOURCE", dict(login="x", office="msk", dial="101")),
    ]
    for error, message, kwargs in cases:
        kwargs.setdefault("dial", "PJSIP/1")
        with pytest.raises(error, match=message), db.unit_of_work() as s:
            offices.add_agent(s, **kwargs)  # type: ignore[arg-type]
    assert count(db, Agent) == 1
    with pytest.raises(InvalidInput, match="agent state must be one of"), db.unit_of_work() as s:
        offices.set_agent_state(s, "ivanova", "asleep")
    with pytest.raises(NotFound, match="no agent 'ghost'"), db.unit_of_work() as s:
        offices.set_agent_state(s, "ghost", "paused")
    with pytest.raises(InvalidInput, match="own backup"), db.unit_of_work() as s:
        offices.set_agent_backup(s, "ivanova", "ivanova")


def test_office_set_changes_settings_and_refuses_out_of_range(db: Database) -> None:
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        view = offices.set_office(s, "msk", strategy="round-robin", owner_wait=15)
    assert (view.strategy, view.owner_wait_seconds) == ("round-robin", 15)
    with pytest.raises(InvalidInput, match="between 1 and 3600"), db.unit_of_work() as s:
        offices.set_office(s, "msk", attempt_timeout=0)
    with pytest.raises(InvalidInput, match="strategy must be one of"), db.unit_of_work() as s:
        offices.set_office(s, "msk", strategy="luck")


def test_office_and_agent_commands(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    added = run_cli(capsys, db_url, "office", "add", "msk", "--name", "Москва", "--line", "+74951234567")
    assert (added.code, added.out) == (0, "office msk added with lines +74951234567\n")
    assert run_cli(capsys, db_url, "office", "line", "msk", "Sales").code == 0
    offices = json.loads(run_cli(capsys, db_url, "office", "list", "--json").out)
    assert offices == [
        {
            "code": "msk",
            "name": "Москва",
            "lines": ["+74951234567", "sales"],
            "strategy": "longest-idle",
            "owner_policy": "backup",
            "owner_wait": 30,
            "attempt_timeout": 20,
            "wrapup": 0,
        }
    ]
    table = run_cli(capsys, db_url, "office", "list")
    assert table.out.splitlines()[0].split() == ["CODE", "NAME", "LINES", "STRATEGY", "OWNER", "POLICY"]
    assert "Москва" in table.out

    ok = run_cli(capsys, db_url, "agent", "add", "ivanova", "--office", "msk", "--dial", "PJSIP/101")
    assert (ok.code, ok.out) == (0, "agent ivanova added to office msk\n")
    state = run_cli(capsys, db_url, "agent", "state", "ivanova", "paused")
    assert (state.code, state.out) == (0, "agent ivanova is paused\n")
    agents = json.loads(run_cli(capsys, db_url, "agent", "list", "--json").out)
    assert agents == [
        {
            "login": "ivanova",
            "name": "ivanova",
            "office": "msk",
            "dial": "PJSIP/101",
            "backup": None,
            "state": "paused",
        }
    ]


@pytest.mark.parametrize(
    ("argv", "code", "err"),
    [
        (["office", "add", "msk"], 4, "error: office 'msk' already exists\n"),
        (["office", "line", "spb", "+78121234567"], 3, "error: no office 'spb'\n"),
        (
            ["agent", "add", "ivanova", "--office", "msk", "--dial", "PJSIP/9"],
            4,
            "error: agent 'ivanova' already exists\n",
        ),
        (["agent", "add", "x", "--office", "nope", "--dial", "PJSIP/9"], 3, "error: no office 'nope'\n"),
        (["agent", "state", "ghost", "paused"], 3, "error: no agent 'ghost'\n"),
        (
            ["agent", "add", "x", "--office", "msk", "--dial", "101"],
            5,
            "error: dial string '101' must look like TECH/RESOURCE, e.g. PJSIP/101\n",
        ),
    ],
)
def test_office_and_agent_refusals_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], db_url: str, argv: list[str], code: int, err: str
) -> None:
    assert run_cli(capsys, db_url, "office", "add", "msk").code == 0
    assert (
        run_cli(capsys, db_url, "agent", "add", "ivanova", "--office", "msk", "--dial", "PJSIP/1").code == 0
    )
    result = run_cli(capsys, db_url, *argv)
    assert (result.code, result.err, result.out) == (code, err, "")


def test_bad_agent_state_is_a_usage_error(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli(capsys, db_url, "agent", "state", "ivanova", "asleep")
    assert exited.value.code == 2
    assert "invalid choice: 'asleep'" in capsys.readouterr().err


def test_office_set_and_agent_backup_commands(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    assert run_cli(capsys, db_url, "office", "add", "msk").code == 0
    for login in ("ivanova", "petrov"):
        assert (
            run_cli(capsys, db_url, "agent", "add", login, "--office", "msk", "--dial", "PJSIP/1").code == 0
        )
    changed = run_cli(
        capsys,
        db_url,
        "office",
        "set",
        "msk",
        "--strategy",
        "round-robin",
        "--owner-policy",
        "wait",
        "--owner-wait",
        "45",
    )
    assert changed.code == 0
    assert changed.out == (
        "office msk: strategy round-robin, owner policy wait, owner wait 45s, "
        "attempt timeout 20s, wrap-up 0s\n"
    )
    bad = run_cli(capsys, db_url, "office", "set", "msk", "--wrapup", "4000")
    assert (bad.code, bad.err) == (5, "error: wrap-up must be between 0 and 3600 seconds, not 4000\n")
    backup = run_cli(capsys, db_url, "agent", "backup", "ivanova", "petrov")
    assert (backup.code, backup.out) == (0, "agent ivanova: backup petrov\n")
    assert json.loads(run_cli(capsys, db_url, "agent", "list", "--json").out)[0]["backup"] == "petrov"
    cleared = run_cli(capsys, db_url, "agent", "backup", "ivanova")
    assert (cleared.code, cleared.out) == (0, "agent ivanova: backup none\n")
    own = run_cli(capsys, db_url, "agent", "backup", "ivanova", "ivanova")
    assert (own.code, own.err) == (5, "error: an agent cannot be their own backup\n")
