"""Why an agent was left out of a plan, and the ledger's why: what a dispute page shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from router.directory import households, offices
from router.routing import ledger
from router.routing.decision import decide, skipped
from router.routing.plan import (
    SKIP_BUSY,
    SKIP_EXCLUDED,
    SKIP_LAPSED,
    SKIP_OFFLINE,
    SKIP_PAUSED,
    SKIP_TRIED,
    SKIP_WRAPUP,
    AgentState,
    OfficeSettings,
    Skipped,
    Snapshot,
)
from router.storage.db import Database
from router.storage.models import Agent, Household
from tests.helpers import run_cli
from tests.routing_helpers import MSK_LINE, NUMBER, center, household, new_call, outcome, set_state

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def why(capsys: pytest.CaptureFixture[str], db: Database) -> dict[str, str]:
    result = run_cli(capsys, db.url, "route", NUMBER, "--line", MSK_LINE, "--json")
    assert result.code == 0, result.err
    return {s["agent"]: s["why"] for s in json.loads(result.out)["skipped"]}


def test_route_says_the_owner_was_skipped_because_paused(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    center(db)
    household(db, "m1", NUMBER)
    set_state(db, "m1", "paused")
    assert why(capsys, db) == {"m1": SKIP_PAUSED}
    text = run_cli(capsys, db.url, "route", NUMBER, "--line", MSK_LINE)
    assert "skipped: m1 (paused)" in text.out


def test_route_says_the_owner_was_skipped_because_offline(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    center(db)
    household(db, "m1", NUMBER)
    set_state(db, "m1", "offline")
    assert why(capsys, db) == {"m1": SKIP_OFFLINE}


def test_route_says_the_owner_was_skipped_because_busy_on_another_call(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    router = center(db, msk=3)
    household(db, "m1", NUMBER)
    router.decide(new_call("+79035550101"), claim=1)  # a stranger's call claims m1 (longest idle)
    with db.unit_of_work() as s:
        claimed = {a.login for a in s.query(Agent).where(Agent.claimed_by.is_not(None))}
    assert why(capsys, db) == dict.fromkeys(claimed, SKIP_BUSY)


def test_route_says_the_owner_was_skipped_because_in_wrap_up(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    router = center(db)
    household(db, "m1", NUMBER)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", wrapup=600)
    decision = router.decide(new_call(), claim=1)
    router.record(decision.id, 1, outcome("ANSWER", talk=5.0))
    assert why(capsys, db) == {"m1": SKIP_WRAPUP}


def test_route_says_the_owner_was_skipped_because_the_ownership_lapsed(
    db: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    center(db, ownership_lapse_days=30)
    hid = household(db, "m2", NUMBER)
    with db.unit_of_work() as s:
        s.execute(
            update(Household)
            .where(Household.id == hid)
            .values(last_contact_at=datetime.now(UTC) - timedelta(days=31))
        )
    config = tmp_path / "lapse.toml"
    config.write_text("ownership_lapse_days = 30\n")
    result = run_cli(capsys, db.url, "route", NUMBER, "--line", MSK_LINE, "--json", "--config", str(config))
    assert result.code == 0, result.err
    assert {s["agent"]: s["why"] for s in json.loads(result.out)["skipped"]} == {"m2": SKIP_LAPSED}


def test_route_says_an_excluded_agent_was_skipped(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    center(db)
    hid = household(db, "m1", NUMBER)
    with db.unit_of_work() as s:
        households.exclude(s, hid, "m2", actor="boss")
    assert why(capsys, db) == {"m2": SKIP_EXCLUDED}


def test_the_pure_explanation_says_an_agent_already_rung_for_the_call() -> None:
    office = OfficeSettings("msk")
    agents = (AgentState("a", "msk", "PJSIP/1"), AgentState("b", "msk", "PJSIP/2"))
    snapshot = Snapshot("msk", (office,), agents, household_id=1, owner="a", tried=frozenset({"a"}))
    call = new_call(at=DAY)
    plan = decide(call, snapshot)
    assert skipped(call, snapshot, plan) == (Skipped("a", SKIP_TRIED),)


def test_ledger_json_has_each_attempts_reason_the_office_and_the_decision_time(db: Database) -> None:
    router = center(db)
    household(db, "m2", NUMBER)
    decision = router.decide(new_call(at=DAY))
    router.record(decision.id, 1, outcome("NOANSWER", at=DAY))
    with db.reader() as s:
        [entry] = ledger.entries(s)
    data = entry.as_json()
    assert data["office"] == "msk" and data["decide_ms"] == pytest.approx(decision.decide_ms, abs=0.001)
    assert data["attempts"][0]["reason"] == "owner"
    assert data["attempts"][0]["started_at"] == "2026-03-02T09:00:00+00:00"
