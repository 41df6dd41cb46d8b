"""A merge keeps the merged household's calls, and a household id is never reused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from router.directory import audit, household_reads, households
from router.errors import NotFound
from router.routing import ledger
from router.splits import split_report
from router.storage.db import Database, alembic_config
from tests.routing_helpers import NUMBER, SPOUSE, center, household
from tests.test_splits import CLOSED, answered, shares_of, write_bookings

STRANGER = "+79160000099"


def _husband_and_wife(db: Database) -> tuple[int, int]:
    """Two households, each with a call answered by its own manager; the wife's merged into the husband's."""
    router = center(db)
    husband, wife = household(db, "m1", NUMBER), household(db, "m2", SPOUSE)
    answered(router, "m1", CLOSED - timedelta(days=5), talk=60)
    answered(router, "m2", CLOSED - timedelta(days=2), talk=600, number=SPOUSE)
    with db.unit_of_work() as s:
        households.merge(s, husband, wife, owner="m1", actor="ops", reason="one family")
    return husband, wife


def test_a_merge_keeps_the_merged_households_calls_in_the_split(db: Database, tmp_path: Path) -> None:
    husband, wife = _husband_and_wife(db)
    path = write_bookings(
        tmp_path, f"B1,{husband},1000,{CLOSED.isoformat()}", f"B2,{wife},10,{CLOSED.isoformat()}"
    )
    with db.reader() as s:
        results = split_report.report(s, split_report.read_bookings(path), policy="equal", region="RU")
    assert shares_of(results) == {"B1": {"m1": "500.00", "m2": "500.00"}, "B2": {"m1": "5.00", "m2": "5.00"}}
    assert results[1].household == husband


def test_a_merge_keeps_the_merged_households_calls_in_the_ledger_and_audit(db: Database) -> None:
    husband, wife = _husband_and_wife(db)
    with db.reader() as s:
        calls = ledger.entries(s, household=husband)
        calls_by_merged_id = ledger.entries(s, household=wife)
        trail = audit.trail(s, husband)
    assert [(c.household, c.answered_by) for c in calls] == [(husband, "m1"), (wife, "m2")]
    assert calls_by_merged_id == calls
    assert {(r.household, r.action) for r in trail} >= {(wife, "create"), (wife, "merge"), (husband, "merge")}


def test_a_merged_household_id_says_where_it_went(db: Database) -> None:
    husband, wife = _husband_and_wife(db)
    with db.reader() as s, pytest.raises(NotFound, match=f"household {wife} was merged into {husband} on "):
        household_reads.get_household(s, wife)


def test_a_merged_household_id_is_never_given_to_a_new_household(db: Database, tmp_path: Path) -> None:
    _, wife = _husband_and_wife(db)
    stranger = household(db, "m2", STRANGER)
    assert stranger > wife
    path = write_bookings(tmp_path, f"B1,{stranger},1000,{CLOSED.isoformat()}")
    with db.reader() as s:
        results = split_report.report(s, split_report.read_bookings(path), policy="equal", region="RU")
        assert ledger.entries(s, household=stranger) == []
        assert [r.action for r in audit.trail(s, stranger)] == ["create"]
    assert results[0].shares == () and "nobody answered" in (results[0].error or "")


def test_a_database_merged_before_the_fix_shows_the_merged_calls_after_the_upgrade(db: Database) -> None:
    """0005 deleted a merged household's row; its audit row says where it went.

    Household 2 was merged into 1: its calls come back under 1. Household 3
    was merged into 1 too, but SQLite then gave id 3 to a stranger: the two
    families' calls cannot be told apart, so they stay under 3, and no new
    household gets any of these ids again.
    """
    router = center(db)
    husband, wife = household(db, "m1", NUMBER), household(db, "m2", SPOUSE)
    answered(router, "m1", CLOSED - timedelta(days=5))
    answered(router, "m2", CLOSED - timedelta(days=2), number=SPOUSE)
    lost = household(db, "m2", STRANGER)
    answered(router, "m2", CLOSED - timedelta(days=1), number=STRANGER)
    command.downgrade(alembic_config(db.url), "0005")
    with db.engine.begin() as c:
        for merged in (wife, lost):
            c.execute(text("DELETE FROM numbers WHERE household_id = :h"), {"h": merged})
            c.execute(text("DELETE FROM households WHERE id = :h"), {"h": merged})
            c.execute(
                text(
                    "INSERT INTO audit (at, action, household_id, subject, before, after, reason, actor)"
                    " VALUES (:at, 'merge', :h, :s, '', '', '', 'ops')"
                ),
                {"at": CLOSED, "h": merged, "s": f"into household {husband}"},
            )
        c.execute(
            text(
                "INSERT INTO households (id, name, email, address, origin, created_at)"
                " VALUES (:h, 'Stranger', '', '', 'admin', :at)"
            ),
            {"h": lost, "at": CLOSED},
        )
    db.upgrade()
    with db.reader() as s:
        assert [c.household for c in ledger.entries(s, household=husband)] == [husband, wife]
        assert [c.household for c in ledger.entries(s, household=lost)] == [lost]
        with pytest.raises(NotFound, match=f"merged into {husband}"):
            household_reads.get_household(s, wife)
    assert household(db, "m1", "+79160000100") > lost
