"""A household's evidence timeline: calls, audit events and bookings with their splits, in time order."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from router.directory import households
from router.routing.service import Router
from router.splits import bookings, split_report, timeline
from router.splits.shares import parse_override
from router.storage.db import Database
from tests.helpers import run_cli
from tests.routing_helpers import NUMBER, SPOUSE, center, household, new_call, outcome

CLOSED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def covered_household(db: Database) -> tuple[Router, int]:
    """m1 owns the family; m1 answers on day -5, m2 answers the spouse on day -1 covering for m1."""
    router = center(db)
    hid = household(db, "m1", NUMBER)
    first = router.decide(new_call(NUMBER, at=CLOSED - timedelta(days=5)))
    router.record(first.id, 1, outcome(talk=300, at=CLOSED - timedelta(days=5)))
    with db.unit_of_work() as s:
        households.link(s, SPOUSE, hid, label="spouse", move=False, actor="admin", reason="wife")
    second = router.decide(new_call(SPOUSE, at=CLOSED - timedelta(days=1)))
    seq = next(a.seq for a in second.plan.attempts if a.agent == "m2")
    router.record(second.id, seq, outcome(talk=120, at=CLOSED - timedelta(days=1)))
    return router, hid


def test_the_timeline_lists_a_covered_call_with_whom_it_covered_for(db: Database) -> None:
    _, hid = covered_household(db)
    with db.reader() as s:
        found = timeline.timeline(s, hid, region="RU")
    calls = [e for e in found.events if isinstance(e, timeline.CallEvent)]
    assert len(calls) == 2
    covered = calls[1].entry
    assert covered.answered_by == "m2" and covered.office == "msk"
    [answer] = [a for a in covered.attempts if a.status == "ANSWER"]
    assert answer.covering_for == "m1" and answer.talk_seconds == 120.0 and answer.reason


def test_the_timeline_is_in_time_order_with_audit_events_and_bookings(db: Database) -> None:
    _, hid = covered_household(db)
    with db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-1", amount=100001, closed_at=CLOSED, actor="a")
        split_report.save_override(
            s, "T-1", parse_override(["m1=60", "m2=40"]), reason="m1 sold it", actor="boss", region="RU"
        )
    with db.reader() as s:
        found = timeline.timeline(s, hid, region="RU")
    kinds = [e.kind for e in found.events]
    assert "call" in kinds and "booking" in kinds and kinds.count("audit") >= 3
    times = [e.at for e in found.events]
    assert times == sorted(times)
    [booking] = [e for e in found.events if isinstance(e, timeline.BookingEvent)]
    assert booking.split.policy == "override" and booking.split.reason == "m1 sold it"
    assert {s.agent: s.amount for s in booking.split.shares} == {"m1": 60001, "m2": 40000}
    [override] = [
        e for e in found.events if isinstance(e, timeline.AuditEvent) and e.entry.action == "override"
    ]
    assert override.entry.reason == "m1 sold it"


def test_the_timeline_keeps_to_its_period(db: Database) -> None:
    _, hid = covered_household(db)
    with db.reader() as s:
        found = timeline.timeline(s, hid, since=CLOSED - timedelta(days=2), until=CLOSED, region="RU")
    assert [e.kind for e in found.events] == ["call"]


def test_the_timeline_reads_in_a_handful_of_queries_however_many_calls(db: Database) -> None:
    router, hid = covered_household(db)

    def statements_of_a_timeline(calls: int) -> int:
        statements: list[str] = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            with db.reader() as s:
                found = timeline.timeline(s, hid, region="RU")
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        assert len([e for e in found.events if e.kind == "call"]) == calls
        return len(statements)

    def book(numbers: range) -> None:
        with db.unit_of_work() as s:
            for n in numbers:
                bookings.add_booking(
                    s, hid, ref=f"T{n}", amount=100, closed_at=CLOSED + timedelta(hours=n), actor="a"
                )

    book(range(1))
    few = statements_of_a_timeline(2)
    for n in range(30):
        decision = router.decide(new_call(NUMBER, at=CLOSED - timedelta(hours=n + 1)))
        router.record(decision.id, 1, outcome("NOANSWER", at=CLOSED - timedelta(hours=n + 1)))
    book(range(1, 5))
    many = statements_of_a_timeline(32)
    # No statement per call, booking or lead; the family's merged ids
    # (household_merges) are read once for every part, and the split report
    # reads the disputes over the family.
    assert many == few
    assert many <= 20


def test_timeline_cli_writes_json_and_csv(
    db: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    covered_household(db)
    result = run_cli(capsys, db.url, "timeline", SPOUSE, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    calls = [e for e in data["events"] if e["kind"] == "call"]
    assert calls[1]["attempts"][-1]["covering_for"] == "m1"
    path = tmp_path / "t.csv"
    assert run_cli(capsys, db.url, "timeline", NUMBER, "--csv", str(path)).code == 0
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert any(r["kind"] == "attempt" and r["covering_for"] == "m1" for r in rows)
    text = run_cli(capsys, db.url, "timeline", NUMBER, "--since", "2026-03-01")
    assert text.code == 0 and "covering for m1" in text.out
