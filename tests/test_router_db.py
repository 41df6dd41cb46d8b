"""The Router on a real database: decisions, ownership, covering, lapse, the ledger rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from router.directory import audit, household_reads, households, offices
from router.errors import Conflict, InvalidInput, NotFound
from router.routing.plan import OFFICE_POOL, OVERFLOW, OWNER, OWNER_BACKUP
from router.routing.service import Router
from router.storage.db import Database
from router.storage.models import Agent, Attempt, Exclusion, Household
from router.storage.models import Decision as DecisionRow
from tests.routing_helpers import (
    MSK_LINE,
    NUMBER,
    SPB_LINE,
    SPOUSE,
    center,
    household,
    new_call,
    outcome,
    set_state,
)


def route(decision) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(a.agent, a.reason) for a in decision.plan.attempts]


def test_first_answered_call_creates_household_owned_by_answering_agent(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call())
    assert decision.household_id is None and decision.plan.route == OFFICE_POOL
    assert router.claim(decision, 1)
    recorded = router.record(decision.id, 1, outcome())
    assert recorded.new_household_id is not None
    with db.reader() as s:
        found = household_reads.lookup(s, NUMBER)
        assert found is not None and found.owner_login == "m1"
        assert s.get(Household, found.household_id).origin == "call"  # type: ignore[union-attr]
        assert [e.action for e in audit.trail(s, found.household_id)] == ["create"]
        assert s.get(DecisionRow, decision.id).household_id == found.household_id  # type: ignore[union-attr]


def test_number_linked_between_decision_and_answer_joins_that_household(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call())
    assert decision.household_id is None
    linked = household(db, "m2", NUMBER)  # an admin links the number while the call rings
    recorded = router.record(decision.id, 1, outcome())
    assert recorded.new_household_id is None and recorded.covering_for == "m2"
    with db.reader() as s:
        assert s.scalars(select(Household.id)).all() == [linked]  # the household begun for the call is gone
        assert s.get(DecisionRow, decision.id).household_id == linked  # type: ignore[union-attr]


def test_repeat_call_goes_to_owner(db: Database) -> None:
    router = center(db)
    household(db, "m2", NUMBER)
    decision = router.decide(new_call())
    assert route(decision)[0] == ("m2", OWNER)
    assert decision.owner == "m2"


def test_spouse_number_reaches_owner_from_other_office_line(db: Database) -> None:
    router = center(db)
    household(db, "m2", NUMBER, SPOUSE)
    decision = router.decide(new_call(SPOUSE, line=SPB_LINE))
    assert decision.office == "spb"
    assert route(decision) == [("m2", OWNER), ("s1", OFFICE_POOL), ("m1", OVERFLOW)]


def test_non_owner_answering_is_recorded_as_covering_for_owner(db: Database) -> None:
    router = center(db)
    hid = household(db, "m2", NUMBER)
    set_state(db, "m2", "paused")
    decision = router.decide(new_call())
    assert route(decision)[0] == ("m1", OFFICE_POOL)
    recorded = router.record(decision.id, 1, outcome())
    assert recorded.covering_for == "m2"
    with db.reader() as s:
        attempt = s.scalars(select(Attempt)).one()
        assert attempt.covering_for_id == offices.get_agent(s, "m2").id
        assert household_reads.lookup(s, NUMBER).owner_login == "m2"  # type: ignore[union-attr]
        assert s.get(Household, hid).last_contact_at is not None  # type: ignore[union-attr]


def test_owner_paused_with_backup_policy_rings_backup_next(db: Database) -> None:
    router = center(db, msk=3)
    household(db, "m2", NUMBER)
    with db.unit_of_work() as s:
        offices.set_agent_backup(s, "m2", "m3")
    set_state(db, "m2", "paused")
    assert route(router.decide(new_call()))[:2] == [("m3", OWNER_BACKUP), ("m1", OFFICE_POOL)]


def test_owner_busy_with_wait_policy_retries_owner_for_owner_wait(db: Database) -> None:
    router = center(db)
    household(db, "m2", NUMBER)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", owner_policy="wait", owner_wait=40)
    other = router.decide(new_call("+79035550000"))
    assert router.claim(other, next(a.seq for a in other.plan.attempts if a.agent == "m2"))
    decision = router.decide(new_call())
    first = decision.plan.attempts[0]
    assert (first.agent, first.reason, first.wait_seconds) == ("m2", OWNER, 40)
    assert not router.claim(decision, 1)


def test_answer_updates_fairness_of_the_agent(db: Database) -> None:
    router = center(db)
    day = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    for at in (day, day + timedelta(hours=1), day + timedelta(days=1)):
        decision = router.decide(new_call(at=at))
        seq = next(a.seq for a in decision.plan.attempts if a.agent == "m1")
        router.record(decision.id, seq, outcome(talk=100.0, at=at))
        with db.reader() as s:
            m1 = offices.get_agent(s, "m1")
            counts = (m1.calls_day, m1.calls_today, m1.last_call_ended_at)
        if at == day + timedelta(hours=1):
            assert counts == (day.date(), 2, at + timedelta(seconds=104))
    assert counts == ((day + timedelta(days=1)).date(), 1, at + timedelta(seconds=104))


def test_claim_sets_last_offered_for_round_robin(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call())
    assert router.claim(decision, 1)
    with db.reader() as s:
        assert offices.get_agent(s, decision.plan.attempts[0].agent).last_offered_at is not None


def test_agent_who_already_missed_this_call_is_not_rung_again(db: Database) -> None:
    router = center(db)
    call = new_call()
    first = router.decide(call)
    router.record(first.id, 1, outcome("NOANSWER"))
    again = router.decide(call)
    assert first.plan.attempts[0].agent not in [a for a, _ in route(again)]


def test_household_exclusion_is_respected(db: Database) -> None:
    router = center(db)
    hid = household(db, None, NUMBER)
    with db.unit_of_work() as s:
        households.exclude(s, hid, "m1", actor="tester")
    assert "m1" not in [a for a, _ in route(router.decide(new_call()))]


def test_ownerless_household_is_owned_by_next_answering_agent(db: Database) -> None:
    router = center(db)
    hid = household(db, None, NUMBER)
    decision = router.decide(new_call())
    recorded = router.record(decision.id, 1, outcome())
    assert recorded.new_household_id is None and recorded.covering_for is None
    with db.reader() as s:
        assert s.get(Household, hid).owner_id == offices.get_agent(s, "m1").id  # type: ignore[union-attr]


def household_unanswered_for(db: Database, owner: str, *, days: int) -> int:
    """A household of NUMBER owned by `owner`, its last answered contact `days` ago."""
    hid = household(db, owner, NUMBER)
    with db.unit_of_work() as s:
        s.execute(
            update(Household)
            .where(Household.id == hid)
            .values(last_contact_at=datetime.now(UTC) - timedelta(days=days))
        )
    return hid


def test_ownership_lapses_after_days_without_answered_contact(db: Database) -> None:
    router = center(db, ownership_lapse_days=30)
    hid = household_unanswered_for(db, "m2", days=31)
    decision = router.decide(new_call())
    assert decision.owner is None and decision.plan.route == OFFICE_POOL
    with db.reader() as s:
        assert s.get(Household, hid).owner_id is None  # type: ignore[union-attr]
        lapse = [e for e in audit.trail(s, hid) if e.action == "lapse"]
        assert len(lapse) == 1 and lapse[0].before == "m2"


def test_explain_shows_the_lapse_a_call_would_apply_without_applying_it(db: Database) -> None:
    router = center(db, ownership_lapse_days=30)
    hid = household_unanswered_for(db, "m2", days=31)
    decision, plan = router.explain(NUMBER, MSK_LINE)
    assert decision.owner is None and plan.route == OFFICE_POOL
    with db.reader() as s:
        assert s.get(Household, hid).owner_id == offices.get_agent(s, "m2").id  # type: ignore[union-attr]
        assert [e for e in audit.trail(s, hid) if e.action == "lapse"] == []
    assert router.decide(new_call()).owner is None  # the real call lapses it


def test_ownership_does_not_lapse_when_setting_is_off(db: Database) -> None:
    router = center(db)
    hid = household(db, "m2", NUMBER)
    with db.unit_of_work() as s:
        s.execute(
            update(Household)
            .where(Household.id == hid)
            .values(created_at=datetime.now(UTC) - timedelta(days=3000))
        )
    assert router.decide(new_call()).owner == "m2"


def test_unknown_line_uses_default_office_setting(db: Database) -> None:
    router = center(db, default_office="spb")
    decision = router.decide(new_call(line="+74990000000"))
    assert decision.office == "spb"
    assert route(decision)[0] == ("s1", OFFICE_POOL)


def test_unknown_line_without_default_uses_first_office(db: Database) -> None:
    assert center(db).decide(new_call(line="nowhere")).office == "msk"


def test_explain_with_unknown_line_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        center(db).explain(NUMBER, "nowhere")


def test_explain_writes_nothing_and_claims_nothing(db: Database) -> None:
    router = center(db)
    decision, plan = router.explain(NUMBER, SPB_LINE)
    assert decision.id == 0 and plan.route == OFFICE_POOL
    with db.reader() as s:
        assert s.scalars(select(DecisionRow)).all() == []
        assert s.scalars(select(Agent).where(Agent.claimed_by.is_not(None))).all() == []


def test_decision_row_holds_what_the_router_knew(db: Database) -> None:
    router = center(db)
    hid = household(db, "m2", NUMBER)
    decision = router.decide(new_call(line=SPB_LINE))
    with db.reader() as s:
        row = s.get(DecisionRow, decision.id)
        assert row is not None
        assert (row.number, row.line, row.household_id, row.route) == (NUMBER, SPB_LINE, hid, OWNER)
        assert row.owner_id == offices.get_agent(s, "m2").id
        assert [p["agent"] for p in row.plan] == ["m2", "s1", "m1"]


def test_record_from_ids_in_another_router_instance(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call())
    assert router.claim(decision, 1)
    other = Router(db, router.settings)
    assert other.record(decision.id, 1, outcome("BUSY")).status == "BUSY"
    with db.reader() as s:
        assert s.scalars(select(Agent).where(Agent.claimed_by.is_not(None))).all() == []


def test_recording_an_attempt_twice_is_a_conflict(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call())
    router.record(decision.id, 1, outcome("NOANSWER"))
    with pytest.raises(Conflict):
        router.record(decision.id, 1, outcome("NOANSWER"))


def test_unknown_dial_status_is_invalid(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call())
    with pytest.raises(InvalidInput):
        router.record(decision.id, 1, outcome("MAYBE"))


def test_record_of_unknown_decision_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        center(db).record(999, 1, outcome())


def test_anonymous_answered_call_creates_no_household(db: Database) -> None:
    router = center(db)
    decision = router.decide(new_call("anonymous"))
    assert router.record(decision.id, 1, outcome()).new_household_id is None
    with db.reader() as s:
        assert s.scalars(select(Household)).all() == []


@pytest.mark.parametrize("strategy", ["longest-idle", "round-robin", "fewest-calls"])
def test_pool_of_many_agents_is_ranked_by_the_office_strategy(db: Database, strategy: str) -> None:
    router = center(db, msk=15, spb=0)
    now = datetime.now(UTC)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", strategy=strategy)
        for i in range(1, 16):
            s.execute(
                update(Agent)
                .where(Agent.login == f"m{i}")
                .values(
                    last_call_ended_at=now - timedelta(minutes=i),
                    last_offered_at=now - timedelta(minutes=i),
                    calls_day=now.date(),
                    calls_today=15 - i,
                )
            )
    agents = [a for a, _ in route(router.decide(new_call(at=now)))]
    assert agents == [f"m{i}" for i in range(15, 3, -1)]


def test_each_office_ranks_its_own_agents_by_its_own_strategy(db: Database) -> None:
    # Each office's order runs against the other ranking inputs, and spb
    # overflows past the plan's end: the database's pre-selection must take
    # spb's first four by round-robin, not by another office's strategy.
    router = center(db, msk=8, spb=8)
    now = datetime.now(UTC)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", strategy="fewest-calls")
        offices.set_office(s, "spb", strategy="round-robin")
        for i in range(1, 9):
            for prefix in ("m", "s"):
                s.execute(
                    update(Agent)
                    .where(Agent.login == f"{prefix}{i}")
                    .values(
                        last_call_ended_at=now - timedelta(minutes=i),
                        last_offered_at=now - timedelta(minutes=9 - i),
                        calls_day=now.date(),
                        calls_today=i,
                    )
                )
    agents = [a for a, _ in route(router.decide(new_call(at=now)))]
    assert agents == [f"m{i}" for i in range(1, 9)] + ["s1", "s2", "s3", "s4"]


def test_agent_in_wrapup_is_not_free(db: Database) -> None:
    router = center(db)
    now = datetime.now(UTC)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", wrapup=60)
        s.execute(
            update(Agent).where(Agent.login == "m1").values(last_call_ended_at=now - timedelta(seconds=30))
        )
        s.execute(
            update(Agent).where(Agent.login == "m2").values(last_call_ended_at=now - timedelta(seconds=90))
        )
    assert route(router.decide(new_call(at=now))) == [("m2", OFFICE_POOL), ("s1", OVERFLOW)]


def test_wrapup_is_each_offices_own(db: Database) -> None:
    router = center(db, msk=2, spb=2)
    now = datetime.now(UTC)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", wrapup=60)
        offices.set_office(s, "spb", wrapup=10)
        s.execute(
            update(Agent)
            .where(Agent.login.in_(["m1", "s1"]))
            .values(last_call_ended_at=now - timedelta(seconds=30))
        )
    assert route(router.decide(new_call(at=now))) == [("m2", OFFICE_POOL), ("s1", OVERFLOW), ("s2", OVERFLOW)]


def test_overflow_fills_the_plan_from_other_offices_after_the_lines_office(db: Database) -> None:
    router = center(db, msk=15, spb=3)
    plan = route(router.decide(new_call(line=SPB_LINE)))
    assert [reason for _, reason in plan] == [OFFICE_POOL] * 3 + [OVERFLOW] * 9
    assert {a for a, _ in plan[:3]} == {"s1", "s2", "s3"}


def test_owner_excluded_from_the_household_is_not_rung(db: Database) -> None:
    """`household exclude` now refuses the household's own owner, but a database
    written before that rule may hold such an exclusion: it still wins."""
    router = center(db)
    hid = household(db, "m2", NUMBER)
    with db.unit_of_work() as s:
        s.add(Exclusion(household_id=hid, agent_id=offices.get_agent(s, "m2").id))
    assert "m2" not in [a for a, _ in route(router.decide(new_call()))]


def test_owner_who_missed_this_call_is_not_rung_again(db: Database) -> None:
    router = center(db)
    household(db, "m2", NUMBER)
    call = new_call()
    first = router.decide(call)
    assert route(first)[0] == ("m2", OWNER)
    router.record(first.id, 1, outcome("NOANSWER"))
    assert "m2" not in [a for a, _ in route(router.decide(call))]
