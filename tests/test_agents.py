"""Managers come and go: disable, enable, hand families over, and the audit names the person.

On real SQLite and PostgreSQL databases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import select, text

from router.directory import audit, handover, household_reads, households, offices
from router.errors import Conflict, InvalidInput
from router.routing.plan import OFFICE_POOL, OWNER_BACKUP
from router.splits import split_report
from router.storage.db import Database, alembic_config
from router.storage.models import AuditEntry, Household
from tests.helpers import run_cli
from tests.routing_helpers import NUMBER, center, household, new_call, outcome


def owners(db: Database) -> Counter[str | None]:
    with db.reader() as s:
        return Counter(h.owner for h in household_reads.list_households(s))


def test_a_disabled_owners_family_goes_to_the_backup_on_the_next_call(db: Database) -> None:
    router = center(db, msk=3)
    household(db, "m1", NUMBER)
    with db.unit_of_work() as s:
        offices.set_agent_backup(s, "m1", "m2")
        offices.disable_agent(s, "m1", actor="admin", reason="left the company")
    plan = router.decide(new_call()).plan
    assert plan.attempts[0].agent == "m2" and plan.attempts[0].reason == OWNER_BACKUP
    assert "m1" not in {a.agent for a in plan.attempts}


def test_a_disabled_owner_is_not_waited_for_and_the_pool_takes_the_call(db: Database) -> None:
    router = center(db, msk=2)
    household(db, "m1", NUMBER)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", owner_policy="wait", owner_wait=30)
        offices.disable_agent(s, "m1", actor="admin")
    plan = router.decide(new_call()).plan
    assert [(a.agent, a.reason, a.wait_seconds) for a in plan.attempts[:1]] == [("m2", OFFICE_POOL, 0)]
    assert "m1" not in {a.agent for a in plan.attempts}


def test_a_disabled_agent_cannot_be_made_available_until_enabled(db: Database) -> None:
    center(db, msk=1)
    with db.unit_of_work() as s:
        offices.disable_agent(s, "m1", actor="admin")
    with db.unit_of_work() as s, pytest.raises(Conflict, match="disabled"):
        offices.set_agent_state(s, "m1", "available")
    with db.unit_of_work() as s:
        assert offices.enable_agent(s, "m1", actor="admin").state == "offline"
        assert offices.set_agent_state(s, "m1", "available").state == "available"
    with db.reader() as s:
        assert [(e.action, e.subject) for e in audit.trail(s)][-2:] == [
            ("disable", "m1"),
            ("enable", "m1"),
        ]


def test_a_fair_handover_over_three_agents_gives_each_a_hundred_families(db: Database) -> None:
    center(db, msk=4)
    with db.unit_of_work() as s:
        for n in range(300):
            households.add_household(s, name=f"f{n}", owner="m4", actor="admin")
        offices.disable_agent(s, "m4", actor="admin")
    with db.unit_of_work() as s:
        plan = handover.plan_handover(s, "m4", office="msk")
        assert plan.counts() == {"m1": 100, "m2": 100, "m3": 100}
        handover.apply_handover(s, plan, reason="left for a competitor", actor="admin")
    assert owners(db) == Counter({"m1": 100, "m2": 100, "m3": 100})
    with db.reader() as s:
        handed = select(AuditEntry.reason, AuditEntry.before, AuditEntry.actor)
        rows = s.execute(handed.where(AuditEntry.action == "handover")).all()
    assert len(rows) == 300
    assert {r.reason for r in rows} == {
        f"handover from m4 to {login}: left for a competitor" for login in ("m1", "m2", "m3")
    }
    assert {(r.before, r.actor) for r in rows} == {("m4", "admin")}


def test_a_fair_handover_evens_out_what_each_agent_already_owns(db: Database) -> None:
    center(db, msk=3)
    with db.unit_of_work() as s:
        for n in range(4):
            households.add_household(s, name=f"old{n}", owner="m1", actor="admin")
        for n in range(6):
            households.add_household(s, name=f"f{n}", owner="m3", actor="admin")
    with db.reader() as s:
        fewest = handover.plan_handover(s, "m3", office="msk")
        turns = handover.plan_handover(s, "m3", office="msk", rule="round-robin")
    assert fewest.counts() == {"m1": 1, "m2": 5}
    assert turns.counts() == {"m1": 3, "m2": 3}


def test_a_dry_run_changes_nothing(db: Database, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    center(db, msk=3)
    household(db, "m3", NUMBER)
    result = run_cli(capsys, db_url, "agent", "handover", "m3", "--fair", "--office", "msk", "--dry-run")
    assert result.code == 0, result.err
    assert "would move 1 families from m3: m1 1" in result.out
    assert owners(db) == Counter({"m3": 1})
    with db.reader() as s:
        assert not s.scalars(select(AuditEntry).where(AuditEntry.action == "handover")).all()


def test_a_handover_needs_a_reason_unless_it_is_a_dry_run(
    db: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    center(db, msk=2)
    household(db, "m2", NUMBER)
    result = run_cli(capsys, db_url, "agent", "handover", "m2", "--to", "m1")
    assert result.code == 5 and "--reason" in result.err
    assert owners(db) == Counter({"m2": 1})


def test_a_handover_to_one_agent_moves_the_backups_too(
    db: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    center(db, msk=3)
    household(db, "m3", NUMBER)
    with db.unit_of_work() as s:
        offices.set_agent_backup(s, "m1", "m3")
    result = run_cli(capsys, db_url, "agent", "handover", "m3", "--to", "m2", "--reason", "left", "--json")
    assert result.code == 0, result.err
    assert '"backups": [\n    {\n      "agent": "m1",\n      "to": "m2"' in result.out
    with db.reader() as s:
        assert {a.login: a.backup for a in offices.list_agents(s)}["m1"] == "m2"
    assert owners(db) == Counter({"m2": 1})


def test_a_handover_to_a_disabled_agent_is_refused(db: Database) -> None:
    center(db, msk=2)
    with db.unit_of_work() as s:
        offices.disable_agent(s, "m1", actor="admin")
    with db.reader() as s, pytest.raises(InvalidInput, match="disabled"):
        handover.plan_handover(s, "m2", to="m1")


def test_the_owner_split_of_a_booking_closed_before_a_handover_credits_the_owner_of_that_time(
    db: Database,
) -> None:
    router = center(db, msk=2)
    hid = household(db, "m1", NUMBER)
    called = datetime.now(UTC) - timedelta(days=2)
    decision = router.decide(new_call(at=called))
    assert decision.plan.attempts[0].agent == "m1" and router.claim(decision, 1)
    router.record(decision.id, 1, outcome(at=called))
    closed = datetime.now(UTC) - timedelta(days=1)
    with db.unit_of_work() as s:
        handover.apply_handover(s, handover.plan_handover(s, "m1", to="m2"), reason="left", actor="admin")
    later = datetime.now(UTC) + timedelta(seconds=1)
    bookings = [
        split_report.Booking(line=2, booking="before", household=str(hid), amount=100_000, closed_at=closed),
        split_report.Booking(line=3, booking="after", household=str(hid), amount=100_000, closed_at=later),
    ]
    with db.reader() as s:
        results = split_report.report(s, bookings, policy="owner", region="RU")
    assert {r.booking: [(sh.agent, sh.amount) for sh in r.shares] for r in results} == {
        "before": [("m1", 100_000)],
        "after": [("m2", 100_000)],
    }


def test_the_audit_names_the_person_behind_sudo_not_the_service_account(db: Database, db_url: str) -> None:
    center(db, msk=1)
    env = {k: v for k, v in os.environ.items() if k != "CALLKEEPER_ACTOR"} | {"SUDO_USER": "ivanova"}
    done = subprocess.run(
        [sys.executable, "-m", "router.cli.main", "--db", db_url, "agent", "disable", "m1", "--reason", "x"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with db.reader() as s:
        assert [(e.action, e.actor) for e in audit.trail(s)] == [("disable", "ivanova")]


def test_disabling_keeps_the_agents_families_until_they_are_handed_over(db: Database) -> None:
    center(db, msk=2)
    hid = household(db, "m1", NUMBER)
    with db.unit_of_work() as s:
        offices.disable_agent(s, "m1", actor="admin")
    with db.reader() as s:
        assert s.get(Household, hid).owner.login == "m1"  # type: ignore[union-attr]


def test_a_database_from_before_keeps_its_agents_and_owners_and_can_disable(db: Database) -> None:
    command.downgrade(alembic_config(db.url), "0005")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO offices (code, name, strategy, owner_policy, owner_wait_seconds,"
                " attempt_timeout_seconds, wrapup_seconds)"
                " VALUES ('msk', 'M', 'longest-idle', 'backup', 30, 20, 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO agents (login, name, office_id, dial, state, state_changed_at, calls_today)"
                " VALUES ('a', 'A', 1, 'PJSIP/1', 'paused', :at, 0)"
            ),
            {"at": datetime.now(UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO households (name, owner_id, email, address, origin, created_at)"
                " VALUES ('H', 1, '', '', 'admin', :at)"
            ),
            {"at": datetime.now(UTC)},
        )
    db.upgrade()
    with db.unit_of_work() as s:
        assert [(a.login, a.state) for a in offices.list_agents(s)] == [("a", "paused")]
        assert [h.owner for h in household_reads.list_households(s)] == ["a"]
        offices.disable_agent(s, "a", actor="admin")
    with db.reader() as s:
        assert [a.state for a in offices.list_agents(s)] == ["disabled"]
