"""Bookings in the database, splits over them, and overrides that must name a real booking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.directory import audit
from router.errors import Conflict, ExitCode, InvalidInput, NotFound
from router.routing.service import Router
from router.splits import bookings, split_report
from router.splits.shares import parse_override
from router.storage.db import Database
from tests.helpers import run_cli
from tests.routing_helpers import NUMBER, SPOUSE, center, household, new_call, outcome

CLOSED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def answered(router: Router, login: str, at: datetime, talk: float = 60.0, number: str = NUMBER) -> None:
    decision = router.decide(new_call(number, at=at))
    seq = next(a.seq for a in decision.plan.attempts if a.agent == login)
    router.record(decision.id, seq, outcome(talk=talk, at=at))


def two_managers(db: Database) -> int:
    router = center(db)
    hid = household(db, "m1", NUMBER, SPOUSE)
    answered(router, "m1", CLOSED - timedelta(days=5))
    answered(router, "m2", CLOSED - timedelta(days=1), number=SPOUSE)
    return hid


def write_csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "bookings.csv"
    path.write_text("booking,household,amount,closed_at\n" + "".join(r + "\n" for r in rows))
    return path


def test_a_booking_added_by_hand_is_stored_in_kopecks_with_who_added_it(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    hid = two_managers(db)
    result = run_cli(
        capsys,
        db.url,
        "booking",
        "add",
        SPOUSE,
        "--amount",
        "1234.56",
        "--at",
        "2026-03-10T12:00",
        "--ref",
        "T-1",
        "--note",
        "Turkey, 2 adults",
    )
    assert result.code == 0, result.err
    listed = run_cli(capsys, db.url, "booking", "list", "--household", NUMBER, "--json")
    [row] = json.loads(listed.out)
    assert row["household"] == hid and row["ref"] == "T-1" and row["amount"] == "1234.56"
    assert row["closed_at"] == "2026-03-10T12:00:00+00:00" and row["added_by"] == "tester"
    with db.reader() as s:
        assert bookings.list_bookings(s)[0].amount == 123456


def test_a_reference_is_unique_per_source(db: Database) -> None:
    hid = two_managers(db)
    with db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-1", amount=100, closed_at=CLOSED, actor="a")
        bookings.add_booking(s, hid, ref="T-1", amount=100, closed_at=CLOSED, actor="a", source="crm")
    with pytest.raises(Conflict, match="T-1"), db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-1", amount=5, closed_at=CLOSED, actor="a")


def test_a_booking_import_with_one_bad_row_writes_nothing(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hid = two_managers(db)
    path = write_csv(
        tmp_path,
        f"B1,{hid},10,{CLOSED.isoformat()}",
        f"B2,{SPOUSE},abc,{CLOSED.isoformat()}",
        f"B3,999999,1,{CLOSED.isoformat()}",
        f"B1,{hid},2,{CLOSED.isoformat()}",
    )
    result = run_cli(capsys, db.url, "booking", "import", str(path))
    assert result.code == ExitCode.INVALID
    assert "line 3" in result.err and "line 4" in result.err and "line 5" in result.err
    with db.reader() as s:
        assert bookings.list_bookings(s) == []


def test_a_clean_booking_import_is_stored_whole(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hid = two_managers(db)
    path = write_csv(tmp_path, f"B1,{hid},10,{CLOSED.isoformat()}", f"B2,{SPOUSE},20.5,2026-03-09")
    assert run_cli(capsys, db.url, "booking", "import", str(path)).code == 0
    again = run_cli(capsys, db.url, "booking", "import", str(path))
    assert again.code == ExitCode.INVALID and "already stored" in again.err
    with db.reader() as s:
        assert [(b.ref, b.amount) for b in bookings.list_bookings(s)] == [("B2", 2050), ("B1", 1000)]


def test_booking_list_filters_by_period(db: Database) -> None:
    hid = two_managers(db)
    with db.unit_of_work() as s:
        for day in range(3):
            bookings.add_booking(
                s, hid, ref=f"T{day}", amount=1, closed_at=CLOSED + timedelta(days=day), actor="a"
            )
    with db.reader() as s:
        found = bookings.list_bookings(s, since=CLOSED + timedelta(days=1), until=CLOSED + timedelta(days=2))
    assert [b.ref for b in found] == ["T1"]


def test_splits_compute_over_the_stored_bookings_by_default(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    hid = two_managers(db)
    with db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-1", amount=100101, closed_at=CLOSED, actor="a")
    result = run_cli(capsys, db.url, "splits", "--format", "json")
    assert result.code == 0, result.err
    [row] = json.loads(result.out)
    assert row["booking"] == "T-1"
    assert {s["agent"]: s["amount"] for s in row["shares"]} == {"m1": "500.51", "m2": "500.50"}


def test_an_override_for_a_booking_that_exists_nowhere_is_refused(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    two_managers(db)
    result = run_cli(capsys, db.url, "splits", "override", "NOPE", "m1=100", "--reason", "x")
    assert result.code == ExitCode.NOT_FOUND and "NOPE" in result.err
    with db.reader() as s:
        assert [e for e in audit.trail(s) if e.action == "override"] == []


def test_an_override_naming_an_unknown_agent_is_not_found(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    hid = two_managers(db)
    with db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-1", amount=100, closed_at=CLOSED, actor="a")
    result = run_cli(capsys, db.url, "splits", "override", "T-1", "m1=50", "ghost=50", "--reason", "x")
    assert result.code == ExitCode.NOT_FOUND and "no agent ghost" in result.err


def test_an_override_of_a_booking_in_the_given_file_is_accepted(db: Database, tmp_path: Path) -> None:
    hid = two_managers(db)
    path = write_csv(tmp_path, f"F-1,{NUMBER},100,{CLOSED.isoformat()}")
    with db.unit_of_work() as s:
        split_report.save_override(
            s,
            "F-1",
            parse_override(["m1=60", "m2=40"]),
            reason="m1 sold it",
            actor="boss",
            file_bookings=split_report.read_bookings(path),
            region="RU",
        )
    with db.reader() as s:
        [entry] = [e for e in audit.trail(s) if e.action == "override"]
    assert entry.household == hid and entry.subject == "booking F-1"


def test_an_override_is_audited_with_its_household_and_shown_with_its_reason(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    hid = two_managers(db)
    with db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-1", amount=10001, closed_at=CLOSED, actor="a")
    result = run_cli(
        capsys, db.url, "splits", "override", "T-1", "m1=70", "m2=30", "--reason", "m2 only confirmed"
    )
    assert result.code == 0, result.err
    table = run_cli(capsys, db.url, "splits")
    assert table.code == 0 and "m2 only confirmed" in table.out
    data = json.loads(run_cli(capsys, db.url, "splits", "--format", "json").out)[0]
    assert data["policy"] == "override" and data["reason"] == "m2 only confirmed"
    assert data["override_by"] == "tester"
    assert {x["agent"]: x["amount"] for x in data["shares"]} == {"m1": "70.01", "m2": "30.00"}
    with db.reader() as s:
        [entry] = [e for e in audit.trail(s, hid) if e.action == "override"]
    assert json.loads(entry.after) == {"m1": "70", "m2": "30"} and entry.actor == "tester"


def test_an_override_not_totalling_100_is_refused_with_why(db: Database) -> None:
    hid = two_managers(db)
    with db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-1", amount=100, closed_at=CLOSED, actor="a")
    with pytest.raises(InvalidInput, match=r"total 99\.99"):
        parse_override(["m1=50", "m2=49.99"])


def test_splits_exit_5_when_every_row_is_an_error(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_managers(db)
    path = write_csv(tmp_path, f"B1,999999,1,{CLOSED.isoformat()}", "B2,1,abc,2026-01-01")
    result = run_cli(capsys, db.url, "splits", "--bookings", str(path))
    assert result.code == ExitCode.INVALID and "ERROR" in result.out


def test_an_unknown_agent_in_an_override_raises_not_found(db: Database) -> None:
    hid = two_managers(db)
    with db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-1", amount=100, closed_at=CLOSED, actor="a")
    with pytest.raises(NotFound, match="no agent ghost"), db.unit_of_work() as s:
        split_report.save_override(
            s, "T-1", parse_override(["ghost=100"]), reason="x", actor="b", region="RU"
        )
