"""The record of an attempt as one statement on PostgreSQL (`router.routing.recording`).

Each case the statement takes writes what the transaction path writes (the
other tests of the record run through it on PostgreSQL); each case it leaves
to the transaction path writes nothing at all, so that path starts clean.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import func, select

from router.routing import ledger, recording
from router.routing.plan import ANSWER, Decision, DialOutcome
from router.storage.db import Database
from router.storage.models import Agent, Attempt, AuditEntry, Household, PhoneNumber
from router.storage.models import Decision as DecisionRow
from tests.routing_helpers import NUMBER, center, household, new_call, outcome, set_state


@pytest.fixture(autouse=True)
def _postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite runs no writes in a WITH clause: its record is always one transaction")


def _at_once(
    db: Database,
    decision: Decision,
    seq: int,
    ended: DialOutcome,
    *,
    free_the_rest: bool = False,
    agent: str | None = None,
) -> recording.Recorded | None:
    """`record_at_once` as `Router.record` calls it; `agent` stands in for the planned one."""
    planned = decision.plan.attempt(seq)
    assert planned is not None
    if agent is not None:
        planned = dataclasses.replace(planned, agent=agent)
    with db.statements() as connection:
        return recording.record_at_once(
            connection, ledger.StoredDecision.of(decision), planned, ended, free_the_rest=free_the_rest
        )


def _everything(db: Database) -> dict[str, Any]:
    """Every row the record could write or change."""
    with db.reader() as s:
        return {
            "agents": s.execute(
                select(Agent.login, Agent.claimed_by, Agent.calls_today, Agent.last_call_ended_at).order_by(
                    Agent.login
                )
            ).all(),
            "households": s.execute(
                select(Household.id, Household.owner_id, Household.last_contact_at).order_by(Household.id)
            ).all(),
            "numbers": s.execute(select(PhoneNumber.number, PhoneNumber.household_id)).all(),
            "decisions": s.execute(select(DecisionRow.id, DecisionRow.household_id)).all(),
            "attempts": s.scalar(select(func.count()).select_from(Attempt)),
            "audit": s.scalar(select(func.count()).select_from(AuditEntry)),
        }


def _agent(db: Database, login: str) -> Any:
    """The agent's id, claim and fairness inputs, as a row."""
    columns = (Agent.id, Agent.claimed_by, Agent.calls_today, Agent.last_call_ended_at)
    with db.reader() as s:
        return s.execute(select(*columns).where(Agent.login == login)).one()


def test_answer_by_the_owner_ends_the_claim_touches_the_household_and_writes_the_attempt(
    db: Database,
) -> None:
    router = center(db)
    hid = household(db, "m2", NUMBER)
    decision = router.decide(new_call(), claim=1)
    assert decision.plan.attempts[0].agent == "m2" and decision.claimed == (1,)
    assert _at_once(db, decision, 1, outcome()) == recording.Recorded(None, None)
    m2 = _agent(db, "m2")
    assert (m2.claimed_by, m2.calls_today) == (None, 1) and m2.last_call_ended_at is not None
    with db.reader() as s:
        attempt = s.scalars(select(Attempt)).one()
        assert (attempt.agent_id, attempt.status, attempt.covering_for_id) == (m2.id, ANSWER, None)
        assert s.get(Household, hid).last_contact_at is not None  # type: ignore[union-attr]


def test_answer_by_a_non_owner_is_written_as_covering_for_the_owner(db: Database) -> None:
    router = center(db)
    household(db, "m2", NUMBER)
    set_state(db, "m2", "paused")
    decision = router.decide(new_call(), claim=1)
    assert decision.plan.attempts[0].agent == "m1"
    assert _at_once(db, decision, 1, outcome()) == recording.Recorded("m2", None)
    with db.reader() as s:
        assert s.scalars(select(Attempt.covering_for_id)).one() == _agent(db, "m2").id


def test_first_answer_of_a_new_number_creates_its_household_in_the_same_statement(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call(), claim=1)
    recorded = _at_once(db, decision, 1, outcome())
    assert recorded is not None and recorded.covering_for is None
    hid = recorded.new_household_id
    with db.reader() as s:
        created = s.get(Household, hid)
        assert created is not None and created.owner_id == _agent(db, "m1").id and created.origin == "call"
        assert s.execute(select(PhoneNumber.number, PhoneNumber.label)).all() == [(NUMBER, "mobile")]
        entry = s.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.household_id, entry.actor) == ("create", hid, "router")
        assert entry.after == f"owner=m1 numbers={NUMBER}"
        assert s.get(DecisionRow, decision.id).household_id == hid  # type: ignore[union-attr]
        assert s.scalars(select(Attempt.agent_id)).one() == created.owner_id


def test_unanswered_attempt_ends_the_claim_without_counting_a_call(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call(), claim=1)
    assert _at_once(db, decision, 1, outcome("NOANSWER")) == recording.Recorded(None, None)
    m1 = _agent(db, "m1")
    assert (m1.claimed_by, m1.calls_today, m1.last_call_ended_at) == (None, 0, None)
    with db.reader() as s:
        assert s.scalars(select(Attempt.status)).one() == "NOANSWER"
        assert s.scalar(select(func.count()).select_from(Household)) == 0


def test_answer_with_the_rest_freed_ends_the_calls_other_claims(db: Database) -> None:
    router = center(db, msk=3, spb=0)
    decision = router.decide(new_call(), claim=3, wait_for_owner=False)
    assert decision.claimed == (1, 2, 3)
    assert _at_once(db, decision, 2, outcome(), free_the_rest=True) is not None
    with db.reader() as s:
        assert s.scalars(select(Agent.claimed_by).where(Agent.claimed_by.is_not(None))).all() == []
    assert _agent(db, decision.plan.attempts[1].agent).calls_today == 1


def test_an_ownerless_household_is_left_to_the_transaction_path_with_nothing_written(db: Database) -> None:
    router = center(db)
    household(db, None, NUMBER)
    decision = router.decide(new_call(), claim=1)
    before = _everything(db)
    assert _at_once(db, decision, 1, outcome()) is None
    assert _everything(db) == before
    router.record(decision.id, 1, outcome(), decision)  # the transaction path adopts it
    with db.reader() as s:
        assert s.scalars(select(Household.owner_id)).one() == _agent(db, "m1").id


def test_a_number_linked_since_the_decision_is_left_to_the_transaction_path_with_nothing_written(
    db: Database,
) -> None:
    router = center(db)
    decision = router.decide(new_call(), claim=1)
    linked = household(db, "m2", NUMBER)  # an admin links the number while the call rings
    before = _everything(db)
    assert _at_once(db, decision, 1, outcome()) is None
    assert _everything(db) == before
    assert router.record(decision.id, 1, outcome(), decision).covering_for == "m2"
    with db.reader() as s:
        assert s.scalars(select(Household.id)).all() == [linked]


def test_an_attempt_recorded_twice_is_left_to_the_transaction_path_with_nothing_written(
    db: Database,
) -> None:
    router = center(db)
    household(db, "m1", NUMBER)
    decision = router.decide(new_call(), claim=1)
    router.record(decision.id, 1, outcome(), decision)
    before = _everything(db)
    assert _at_once(db, decision, 1, outcome()) is None
    assert _everything(db) == before  # the agent's calls were not counted twice


def test_an_unknown_agent_is_left_to_the_transaction_path_with_nothing_written(db: Database) -> None:
    router = center(db)
    household(db, "m2", NUMBER)
    decision = router.decide(new_call(), claim=1)
    before = _everything(db)
    assert _at_once(db, decision, 1, outcome(), agent="gone") is None
    assert _everything(db) == before
