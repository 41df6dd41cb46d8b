"""The ledger: what is written per call and attempt, and how it reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.routing import ledger
from router.storage.db import Database
from tests.routing_helpers import NUMBER, center, household, new_call, outcome

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_ledger_entry_has_the_issue_json_shape(db: Database) -> None:
    router = center(db)
    hid = household(db, "m2", NUMBER)
    decision = router.decide(new_call(at=DAY))
    router.record(decision.id, 1, outcome("NOANSWER", at=DAY))
    router.record(decision.id, 2, outcome("ANSWER", talk=42.5, at=DAY + timedelta(seconds=20)))
    with db.reader() as s:
        [entry] = ledger.entries(s)
    assert entry.as_json() == {
        "call": decision.call.uid,
        "at": "2026-03-02T09:00:00+00:00",
        "number": NUMBER,
        "line": decision.call.line,
        "office": "msk",
        "household": hid,
        "owner": "m2",
        "route": "owner",
        "decide_ms": round(decision.decide_ms, 3),
        "answered_by": decision.plan.attempts[1].agent,
        "attempts": [
            {
                "agent": "m2",
                "reason": "owner",
                "started_at": "2026-03-02T09:00:00+00:00",
                "status": "NOANSWER",
                "ring_seconds": 4.0,
                "talk_seconds": 0.0,
                "covering_for": None,
            },
            {
                "agent": decision.plan.attempts[1].agent,
                "reason": decision.plan.attempts[1].reason,
                "started_at": "2026-03-02T09:00:20+00:00",
                "status": "ANSWER",
                "ring_seconds": 4.0,
                "talk_seconds": 42.5,
                "covering_for": "m2",
            },
        ],
    }


def test_a_call_nobody_answered_has_no_answered_by(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call(at=DAY))
    router.record(decision.id, 1, outcome("NOANSWER", at=DAY))
    router.record(decision.id, 2, outcome("BUSY", at=DAY + timedelta(seconds=20)))
    with db.reader() as s:
        [entry] = ledger.entries(s)
    assert entry.answered_by is None and [a.status for a in entry.attempts] == ["NOANSWER", "BUSY"]


def test_ledger_filters_by_time_and_household(db: Database) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER)
    for days in range(3):
        router.decide(new_call(at=DAY + timedelta(days=days)))
    router.decide(new_call("+79035550101", at=DAY))
    with db.reader() as s:
        assert len(ledger.entries(s)) == 4
        assert len(ledger.entries(s, household=hid)) == 3
        window = ledger.entries(s, since=DAY + timedelta(days=1), until=DAY + timedelta(days=2))
        assert [e.at for e in window] == [DAY + timedelta(days=1)]


def test_anonymous_call_reads_as_anonymous(db: Database) -> None:
    router = center(db)
    router.decide(new_call("anonymous", at=DAY))
    with db.reader() as s:
        [entry] = ledger.entries(s)
    assert entry.as_json()["number"] == "anonymous"
    assert entry.as_json()["household"] is None


def test_call_with_nobody_free_is_routed_to_fallback(db: Database) -> None:
    router = center(db, msk=0, spb=0)
    decision = router.decide(new_call(at=DAY))
    assert decision.plan.attempts == ()
    with db.reader() as s:
        assert ledger.entries(s)[0].route == "fallback"


def test_decision_time_is_recorded(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call(at=DAY))
    assert decision.decide_ms > 0
