"""The routing commands end to end: route, ledger, splits, splits override."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.storage.db import Database
from tests.helpers import run_cli
from tests.routing_helpers import MSK_LINE, NUMBER, SPB_LINE, SPOUSE, center, household, new_call, outcome

Capsys = pytest.CaptureFixture[str]
CLOSED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_route_json_explains_owner_first_from_another_offices_line(
    db: Database, db_url: str, capsys: Capsys
) -> None:
    center(db)
    hid = household(db, "m2", NUMBER, SPOUSE)
    result = run_cli(capsys, db_url, "route", "8 916 765-43-21", "--line", SPB_LINE, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "number": SPOUSE,
        "household": hid,
        "owner": "m2",
        "office": "spb",
        "plan": [
            {"agent": "m2", "timeout": 20, "reason": "owner"},
            {"agent": "s1", "timeout": 20, "reason": "office-pool"},
            {"agent": "m1", "timeout": 20, "reason": "overflow"},
        ],
        "then": "fallback",
        "skipped": [],
    }


def test_route_text_lists_the_plan(db: Database, db_url: str, capsys: Capsys) -> None:
    center(db)
    result = run_cli(capsys, db_url, "route", NUMBER, "--line", MSK_LINE)
    assert result.code == 0
    assert "m1" in result.out and "office-pool" in result.out and "then: fallback" in result.out


def test_route_with_unknown_line_is_a_one_line_error(db: Database, db_url: str, capsys: Capsys) -> None:
    center(db)
    result = run_cli(capsys, db_url, "route", NUMBER, "--line", "nowhere")
    assert result.code == 3
    assert result.err == "error: no office has line 'nowhere'\n"


def test_ledger_json_lists_decisions(db: Database, db_url: str, capsys: Capsys) -> None:
    router = center(db)
    decision = router.decide(new_call())
    router.record(decision.id, 1, outcome())
    result = run_cli(capsys, db_url, "ledger", "--json")
    assert result.code == 0
    [entry] = json.loads(result.out)
    assert entry["answered_by"] == "m1" and entry["attempts"][0]["status"] == "ANSWER"
    assert entry["household"] is not None
    text = run_cli(capsys, db_url, "ledger", "--household", str(entry["household"]))
    assert decision.call.uid in text.out


def test_splits_json_two_managers_to_the_kopeck(
    db: Database, db_url: str, capsys: Capsys, tmp_path: Path
) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER)
    for login, days in (("m1", 3), ("m2", 1)):
        at = CLOSED - timedelta(days=days)
        decision = router.decide(new_call(at=at))
        seq = next(a.seq for a in decision.plan.attempts if a.agent == login)
        router.record(decision.id, seq, outcome(at=at))
    path = tmp_path / "b.csv"
    path.write_text(f"booking,household,amount,closed_at\nB1,{hid},1001.01,{CLOSED.isoformat()}\nB2,x,1,?\n")
    result = run_cli(capsys, db_url, "splits", "--bookings", str(path), "--format", "json")
    assert result.code == 0, result.err
    first, bad = json.loads(result.out)
    assert set(first) == {"booking", "household", "amount", "policy", "shares"}
    assert [(s["agent"], s["amount"], s["percent"]) for s in first["shares"]] == [
        ("m1", "500.51", 50.0),
        ("m2", "500.50", 50.0),
    ]
    assert bad["error"].startswith("line 3:")
    table = run_cli(capsys, db_url, "splits", "--bookings", str(path))
    assert "500.51" in table.out and "ERROR line 3" in table.out
    as_csv = run_cli(capsys, db_url, "splits", "--bookings", str(path), "--format", "csv")
    assert as_csv.out.splitlines()[1].startswith("B1,")


def test_splits_without_a_file_splits_the_stored_bookings_and_none_is_no_error(
    db: Database, db_url: str, capsys: Capsys
) -> None:
    result = run_cli(capsys, db_url, "splits", "--format", "json")
    assert result.code == 0 and json.loads(result.out) == []


def test_splits_override_not_totalling_100_is_refused(db: Database, db_url: str, capsys: Capsys) -> None:
    center(db)
    household(db, "m1", NUMBER)
    added = run_cli(
        capsys, db_url, "booking", "add", NUMBER, "--amount", "10", "--at", "2026-03-01", "--ref", "B1"
    )
    assert added.code == 0, added.err
    result = run_cli(capsys, db_url, "splits", "override", "B1", "m1=60", "m2=30", "--reason", "x")
    assert result.code == 5
    assert result.err == "error: override percentages total 90, not 100\n"
    ok = run_cli(capsys, db_url, "splits", "override", "B1", "m1=60", "m2=40", "--reason", "deal")
    assert ok.code == 0, ok.err
    audit = run_cli(capsys, db_url, "audit", "--json")
    assert [e["action"] for e in json.loads(audit.out)][-1:] == ["override"]
