"""Splits: money to the kopeck, each policy, overrides, windows and bad rows."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from router.directory import audit
from router.errors import InvalidInput, NotFound
from router.routing.service import Router
from router.splits import split_report
from router.splits.shares import Contact, allocate, parse_amount, parse_override, split
from router.storage.db import Database
from tests.routing_helpers import NUMBER, SPOUSE, center, household, new_call, outcome

CLOSED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def contact(agent: str, days_before: float, talk: float = 60.0, covering: str | None = None) -> Contact:
    at = CLOSED - timedelta(days=days_before)
    return Contact(f"call-{agent}-{days_before}", agent, at, talk, covering)


def answered(router: Router, login: str, at: datetime, talk: float = 60.0, number: str = NUMBER) -> None:
    decision = router.decide(new_call(number, at=at))
    seq = next(a.seq for a in decision.plan.attempts if a.agent == login)
    router.record(decision.id, seq, outcome(talk=talk, at=at))


def write_bookings(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "bookings.csv"
    path.write_text("booking,household,amount,closed_at\n" + "".join(r + "\n" for r in rows))
    return path


def shares_of(results: list[split_report.BookingSplit]) -> dict[str, dict[str, str]]:
    return {r.booking: {s["agent"]: s["amount"] for s in r.as_json()["shares"]} for r in results}


def test_two_managers_split_50_50_to_the_kopeck_with_an_odd_amount() -> None:
    shares = split(parse_amount("1001.01"), [contact("a", 3), contact("b", 1)], "equal")
    assert [(s.agent, s.amount, s.percent) for s in shares] == [
        ("a", 50051, Decimal("50.00")),
        ("b", 50050, Decimal("50.00")),
    ]


def test_largest_remainder_shares_always_sum_to_the_amount() -> None:
    rng = random.Random(7)
    for _ in range(500):
        total = rng.randint(0, 10_000_000)
        weights = [Fraction(rng.randint(0, 50)) for _ in range(rng.randint(1, 7))]
        if not any(weights):
            continue
        parts = allocate(total, weights)
        assert sum(parts) == total
        assert all(p >= 0 for p in parts)


def test_talk_time_policy_is_proportional() -> None:
    shares = split(10000, [contact("a", 2, talk=300), contact("b", 1, talk=100)], "talk-time")
    assert [(s.agent, s.amount) for s in shares] == [("a", 7500), ("b", 2500)]


def test_owner_policy_gives_everything_to_the_owner_at_closing() -> None:
    shares = split(10000, [contact("a", 2), contact("b", 1)], "owner", owner="b")
    assert [(s.agent, s.amount) for s in shares] == [("b", 10000)]


def test_first_contact_policy_gives_half_to_first_and_rest_equally() -> None:
    calls = [contact("c", 1), contact("a", 5), contact("b", 2), contact("a", 0.5)]
    shares = split(10001, calls, "first-contact")
    assert [(s.agent, s.amount) for s in shares] == [("a", 5001), ("b", 2500), ("c", 2500)]
    assert len(shares[0].evidence) == 2


def test_amount_with_more_than_two_decimals_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_amount("10.001")


@pytest.mark.parametrize("typed", ["1e9", "1E3", "+5", "0x10", "1_000", "99999999999999999", "1000000000.01"])
def test_an_amount_not_in_plain_digits_or_over_a_billion_roubles_is_refused(typed: str) -> None:
    """A CSV's `1e9` was a billion roubles, and a long number overflowed the column: both are typos."""
    with pytest.raises(InvalidInput):
        parse_amount(typed)
    assert parse_amount(" 1 000.5 ") == 100050 and parse_amount("1000000000") == 100_000_000_000


def test_override_must_total_100() -> None:
    with pytest.raises(InvalidInput, match="total 90"):
        parse_override(["a=50", "b=40"])
    assert parse_override(["a=33.34", "b=33.33", "c=33.33"])["a"] == Decimal("33.34")


def test_booking_of_two_managers_from_the_ledger_splits_50_50(db: Database, tmp_path: Path) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER, SPOUSE)
    answered(router, "m1", CLOSED - timedelta(days=5))
    answered(router, "m2", CLOSED - timedelta(days=1), number=SPOUSE)
    path = write_bookings(tmp_path, f"B1,{hid},1001.01,{CLOSED.isoformat()}", f"B2,{SPOUSE},10,2026-03-10")
    with db.reader() as s:
        results = split_report.report(s, split_report.read_bookings(path), policy="equal", region="RU")
    assert shares_of(results) == {
        "B1": {"m1": "500.51", "m2": "500.50"},
        "B2": {"m1": "5.00", "m2": "5.00"},
    }
    evidence = results[0].as_json()["shares"][1]["evidence"]
    assert len(evidence) == 1 and evidence[0]["covering_for"] == "m1"


def test_calls_outside_the_window_do_not_count(db: Database, tmp_path: Path) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER)
    answered(router, "m1", CLOSED - timedelta(days=40))
    answered(router, "m2", CLOSED - timedelta(days=2))
    answered(router, "m1", CLOSED + timedelta(days=1))
    path = write_bookings(tmp_path, f"B1,{hid},100,{CLOSED.isoformat()}")
    with db.reader() as s:
        results = split_report.report(
            s, split_report.read_bookings(path), policy="equal", window_days=30, region="RU"
        )
    assert shares_of(results) == {"B1": {"m2": "100.00"}}


def test_bad_rows_are_marked_and_the_rest_still_split(db: Database, tmp_path: Path) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER)
    never_called = household(db, "m2", SPOUSE)
    answered(router, "m1", CLOSED - timedelta(days=1))
    path = write_bookings(
        tmp_path,
        f"B1,{hid},12.5,{CLOSED.isoformat()}",
        f"B2,{hid},abc,{CLOSED.isoformat()}",
        f"B3,{hid},10,yesterday",
        f"B4,999999,10,{CLOSED.isoformat()}",
        f"B5,{never_called},10,{CLOSED.isoformat()}",
        f"B1,{hid},1,{CLOSED.isoformat()}",
    )
    with db.reader() as s:
        results = split_report.report(s, split_report.read_bookings(path), policy="equal", region="RU")
    assert [r.error is None for r in results] == [True, False, False, False, False, False]
    assert results[0].as_json()["shares"][0]["amount"] == "12.50"
    errors = [r.error or "" for r in results[1:]]
    assert "line 3" in errors[0] and "not a number" in errors[0]
    assert "ISO 8601" in errors[1]
    assert "no household 999999" in errors[2]
    assert "nobody answered" in errors[3]
    assert "twice" in errors[4]


def test_bookings_file_without_the_columns_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("id,amount\n1,2\n")
    with pytest.raises(InvalidInput, match="missing column"):
        split_report.read_bookings(path)


def test_override_replaces_the_policy_and_is_audited(db: Database, tmp_path: Path) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER)
    answered(router, "m1", CLOSED - timedelta(days=1))
    path = write_bookings(tmp_path, f"B1,{hid},100.01,{CLOSED.isoformat()}")
    with db.unit_of_work() as s:
        split_report.save_override(
            s,
            "B1",
            parse_override(["m1=70", "m2=30"]),
            reason="m2 closed the deal",
            actor="boss",
            region="RU",
            file_bookings=split_report.read_bookings(path),
        )
    with db.reader() as s:
        results = split_report.report(s, split_report.read_bookings(path), policy="equal", region="RU")
        trail = [e for e in audit.trail(s, hid) if e.action == "override"]
    data = results[0].as_json()
    assert data["policy"] == "override" and data["reason"] == "m2 closed the deal"
    assert {x["agent"]: x["amount"] for x in data["shares"]} == {"m1": "70.01", "m2": "30.00"}
    assert len(trail) == 1 and json.loads(trail[0].after) == {"m1": "70", "m2": "30"}


def test_override_naming_an_unknown_agent_is_refused_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    center(db)
    hid = household(db, "m1", NUMBER)
    path = write_bookings(tmp_path, f"B1,{hid},100.01,{CLOSED.isoformat()}")
    with pytest.raises(NotFound, match="no agent ghost"), db.unit_of_work() as s:
        split_report.save_override(
            s,
            "B1",
            parse_override(["m1=50", "ghost=50"]),
            reason="x",
            actor="boss",
            region="RU",
            file_bookings=split_report.read_bookings(path),
        )
    with db.reader() as s:
        assert [e for e in audit.trail(s) if e.action == "override"] == []


def test_many_households_read_in_one_pass_give_the_same_split(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER)
    other = household(db, "m2", SPOUSE)
    answered(router, "m1", CLOSED - timedelta(days=3))
    answered(router, "m2", CLOSED - timedelta(days=1))
    answered(router, "m2", CLOSED - timedelta(days=2), number=SPOUSE)
    path = write_bookings(
        tmp_path, f"B1,{hid},1001.01,{CLOSED.isoformat()}", f"B2,{other},7,{CLOSED.isoformat()}"
    )
    with db.reader() as s:
        by_id = split_report.report(s, split_report.read_bookings(path), policy="equal", region="RU")
    monkeypatch.setattr(split_report, "_FEW_HOUSEHOLDS", 0)
    with db.reader() as s:
        in_one_pass = split_report.report(s, split_report.read_bookings(path), policy="equal", region="RU")
    assert (
        shares_of(in_one_pass)
        == shares_of(by_id)
        == {
            "B1": {"m1": "500.51", "m2": "500.50"},
            "B2": {"m2": "7.00"},
        }
    )
