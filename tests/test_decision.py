"""The routing rules, one test each, on hand-built snapshots: no database, no clock."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from identity.numbers import ANONYMOUS, normalize
from router.routing.decision import MAX_ATTEMPTS, decide
from router.routing.plan import (
    FALLBACK,
    OFFICE_POOL,
    OVERFLOW,
    OWNER,
    OWNER_BACKUP,
    AgentState,
    Call,
    OfficeSettings,
    Snapshot,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MSK = OfficeSettings(code="msk")
SPB = OfficeSettings(code="spb")


def agent(login: str, office: str = "msk", **kw: object) -> AgentState:
    kw.setdefault("state_changed_at", NOW - timedelta(hours=1))
    return AgentState(login=login, office=office, dial=f"PJSIP/{login}", **kw)  # type: ignore[arg-type]


def call(number: str = "+79161234567", line: str = "msk", uid: str = "c1") -> Call:
    return Call(uid=uid, caller=normalize(number), line=line, at=NOW)


def snap(*agents: AgentState, office: str = "msk", offices=(MSK, SPB), **kw: object) -> Snapshot:
    return Snapshot(office=office, offices=tuple(offices), agents=agents, **kw)  # type: ignore[arg-type]


def plan_of(snapshot: Snapshot, c: Call | None = None) -> list[tuple[str, str]]:
    return [(a.agent, a.reason) for a in decide(c or call(), snapshot).attempts]


def busy(a: AgentState, by: str = "other") -> AgentState:
    return replace(a, claimed_by=by, claim_expires_at=NOW + timedelta(seconds=30))


def test_available_owner_is_rung_first() -> None:
    s = snap(agent("pool1"), agent("owner"), owner="owner", household_id=1)
    assert plan_of(s)[0] == ("owner", OWNER)
    assert decide(call(), s).route == OWNER


def test_spouse_number_reaches_owner_from_other_office_line() -> None:
    s = snap(agent("spb1", "spb"), agent("owner", "msk"), office="spb", owner="owner", household_id=1)
    assert plan_of(s, call("+79167654321", line="spb")) == [
        ("owner", OWNER),
        ("spb1", OFFICE_POOL),
    ]


def test_paused_agent_is_never_rung() -> None:
    s = snap(agent("a", state="paused"), agent("b"))
    assert [a for a, _ in plan_of(s)] == ["b"]


def test_offline_agent_is_never_rung() -> None:
    s = snap(agent("a", state="offline"), agent("b"))
    assert [a for a, _ in plan_of(s)] == ["b"]


def test_owner_paused_with_backup_policy_rings_backup_next() -> None:
    s = snap(
        agent("owner", state="paused", backup="bk"),
        agent("bk"),
        agent("pool1"),
        owner="owner",
        household_id=1,
    )
    assert plan_of(s) == [("bk", OWNER_BACKUP), ("pool1", OFFICE_POOL)]


def test_owner_busy_with_backup_policy_rings_backup_next() -> None:
    s = snap(busy(agent("owner", backup="bk")), agent("bk"), owner="owner", household_id=1)
    assert plan_of(s) == [("bk", OWNER_BACKUP)]


def test_owner_unavailable_with_backup_policy_and_busy_backup_goes_to_pool() -> None:
    s = snap(
        agent("owner", state="offline", backup="bk"),
        busy(agent("bk")),
        agent("pool1"),
        owner="owner",
        household_id=1,
    )
    assert plan_of(s) == [("pool1", OFFICE_POOL)]


def test_owner_busy_with_wait_policy_retries_owner_for_owner_wait() -> None:
    office = replace(MSK, owner_policy="wait", owner_wait_seconds=45)
    s = snap(
        busy(agent("owner", backup="bk")),
        agent("bk"),
        agent("pool1"),
        offices=(office, SPB),
        owner="owner",
        household_id=1,
    )
    plan = decide(call(), s)
    assert [(a.agent, a.reason, a.wait_seconds) for a in plan.attempts] == [
        ("owner", OWNER, 45),
        ("bk", OFFICE_POOL, 0),
        ("pool1", OFFICE_POOL, 0),
    ]


def test_owner_paused_with_wait_policy_is_skipped() -> None:
    office = replace(MSK, owner_policy="wait")
    s = snap(
        agent("owner", state="paused"),
        agent("pool1"),
        offices=(office,),
        owner="owner",
        household_id=1,
    )
    assert plan_of(s) == [("pool1", OFFICE_POOL)]


def test_owner_busy_with_pool_policy_goes_to_pool_not_backup_first() -> None:
    office = replace(MSK, owner_policy="pool")
    s = snap(
        busy(agent("owner", backup="bk")),
        agent("bk", last_call_ended_at=NOW - timedelta(minutes=1)),
        agent("pool1", last_call_ended_at=NOW - timedelta(minutes=5)),
        offices=(office,),
        owner="owner",
        household_id=1,
    )
    assert plan_of(s) == [("pool1", OFFICE_POOL), ("bk", OFFICE_POOL)]


def test_owner_policy_is_the_owners_office_policy() -> None:
    spb = replace(SPB, owner_policy="wait", owner_wait_seconds=10)
    s = snap(busy(agent("owner", "spb")), offices=(MSK, spb), owner="owner", household_id=1)
    assert [(a.agent, a.wait_seconds) for a in decide(call(), s).attempts] == [("owner", 10)]


def test_new_caller_goes_to_line_office_pool_then_other_offices() -> None:
    s = snap(agent("spb1", "spb"), agent("msk1"), agent("msk2"))
    assert plan_of(s) == [("msk1", OFFICE_POOL), ("msk2", OFFICE_POOL), ("spb1", OVERFLOW)]


def test_anonymous_caller_goes_to_pool() -> None:
    c = Call(uid="x", caller=ANONYMOUS, line="msk", at=NOW)
    assert plan_of(snap(agent("msk1")), c) == [("msk1", OFFICE_POOL)]


def test_household_without_owner_goes_to_pool() -> None:
    s = snap(agent("msk1"), household_id=5, owner=None)
    assert plan_of(s) == [("msk1", OFFICE_POOL)]


def test_longest_idle_rings_the_agent_who_waited_longest() -> None:
    s = snap(
        agent("recent", last_call_ended_at=NOW - timedelta(minutes=1)),
        agent("oldest", last_call_ended_at=NOW - timedelta(hours=2)),
        agent("never", state_changed_at=NOW - timedelta(minutes=30)),
    )
    assert [a for a, _ in plan_of(s)] == ["oldest", "never", "recent"]


def test_round_robin_rings_the_agent_offered_least_recently() -> None:
    office = replace(MSK, strategy="round-robin")
    s = snap(
        agent("a", last_offered_at=NOW - timedelta(minutes=1)),
        agent("b", last_offered_at=NOW - timedelta(minutes=9)),
        agent("c"),
        offices=(office,),
    )
    assert [a for a, _ in plan_of(s)] == ["c", "b", "a"]


def test_fewest_calls_counts_only_todays_calls() -> None:
    office = replace(MSK, strategy="fewest-calls")
    today, yesterday = NOW.date(), NOW.date() - timedelta(days=1)
    s = snap(
        agent("busy_today", calls_day=today, calls_today=7),
        agent("busy_yesterday", calls_day=yesterday, calls_today=50),
        agent("quiet_today", calls_day=today, calls_today=2),
        offices=(office,),
    )
    assert [a for a, _ in plan_of(s)] == ["busy_yesterday", "quiet_today", "busy_today"]


def test_random_strategy_uses_the_given_rng_and_rings_everyone_once() -> None:
    office = replace(MSK, strategy="random")
    s = snap(*(agent(f"a{i}") for i in range(8)), offices=(office,))
    first = [a.agent for a in decide(call(), s, random.Random(1)).attempts]
    again = [a.agent for a in decide(call(), s, random.Random(1)).attempts]
    other = [a.agent for a in decide(call(), s, random.Random(2)).attempts]
    assert first == again
    assert sorted(first) == sorted(other) == [f"a{i}" for i in range(8)]
    assert first != other


def test_agent_in_wrapup_is_not_free() -> None:
    office = replace(MSK, wrapup_seconds=60)
    s = snap(
        agent("resting", last_call_ended_at=NOW - timedelta(seconds=30)),
        agent("rested", last_call_ended_at=NOW - timedelta(seconds=90)),
        offices=(office,),
    )
    assert [a for a, _ in plan_of(s)] == ["rested"]


def test_busy_agent_is_not_in_the_pool() -> None:
    s = snap(busy(agent("a")), agent("b"))
    assert [a for a, _ in plan_of(s)] == ["b"]


def test_expired_claim_is_free_again() -> None:
    expired = replace(agent("a"), claimed_by="dead", claim_expires_at=NOW - timedelta(seconds=1))
    assert [a for a, _ in plan_of(snap(expired))] == ["a"]


def test_agent_who_already_missed_this_call_is_not_rung_again() -> None:
    s = snap(agent("owner"), agent("b"), owner="owner", household_id=1, tried=frozenset({"owner"}))
    assert plan_of(s) == [("b", OFFICE_POOL)]


def test_household_exclusion_is_respected() -> None:
    s = snap(agent("owner"), agent("b"), agent("c"), household_id=1, excluded=frozenset({"b"}))
    assert "b" not in [a for a, _ in plan_of(s)]


def test_attempt_timeout_is_the_agents_office_setting() -> None:
    s = snap(
        agent("m"),
        agent("p", "spb"),
        offices=(replace(MSK, attempt_timeout_seconds=15), replace(SPB, attempt_timeout_seconds=25)),
    )
    assert [(a.agent, a.timeout) for a in decide(call(), s).attempts] == [("m", 15), ("p", 25)]


def test_plan_always_ends_with_fallback_even_when_empty() -> None:
    plan = decide(call(), snap(agent("a", state="paused")))
    assert plan.attempts == ()
    assert plan.then == FALLBACK
    assert plan.route == FALLBACK


def test_plan_is_capped_and_numbered_from_one() -> None:
    s = snap(*(agent(f"a{i:02}") for i in range(30)))
    attempts = decide(call(), s).attempts
    assert len(attempts) == MAX_ATTEMPTS
    assert [a.seq for a in attempts] == list(range(1, MAX_ATTEMPTS + 1))


def test_unknown_line_office_treats_every_office_as_overflow() -> None:
    s = snap(agent("m"), office=None)
    assert plan_of(s) == [("m", OVERFLOW)]


def test_decision_reads_no_clock_but_the_calls_time() -> None:
    s = snap(busy(agent("a")))
    later = Call(uid="c1", caller=normalize("+79161234567"), line="msk", at=NOW + timedelta(hours=1))
    assert plan_of(s) == []
    assert plan_of(s, later) == [("a", OFFICE_POOL)]


def test_fewest_calls_day_is_the_calls_date() -> None:
    office = replace(MSK, strategy="fewest-calls")
    s = snap(
        agent("x", calls_day=date(2026, 3, 1), calls_today=3),
        agent("y", calls_day=NOW.date(), calls_today=1),
        offices=(office,),
    )
    assert [a for a, _ in plan_of(s)] == ["x", "y"]
