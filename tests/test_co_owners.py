"""Co-owners on both backends: set with a reason, rung together or in turn, and a dispute rings both."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from router.directory import audit, disputes, household_reads, households
from router.errors import Conflict, InvalidInput, NotFound
from router.routing import ledger
from router.routing.plan import OWNER, SKIP_PAUSED
from router.splits import split_report
from router.splits.shares import CO_OWNERS, format_amount
from router.storage.db import Database
from router.storage.models import Agent
from tests.helpers import run_cli
from tests.routing_helpers import NUMBER, SPOUSE, center, household, new_call, outcome, set_state

CLOSED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def set_owners(db: Database, hid: int, *logins: str, mode: str = "equal") -> household_reads.HouseholdView:
    with db.unit_of_work() as s:
        return households.set_owners(s, hid, logins, mode=mode, reason="they sell together", actor="ops")


def claimed_by(db: Database) -> dict[str, str]:
    with db.reader() as s:
        rows = s.execute(select(Agent.login, Agent.claimed_by).where(Agent.claimed_by.is_not(None)))
        return {login: uid for login, uid in rows}


def test_setting_owners_keeps_the_first_as_owner_and_the_others_in_order_audited(db: Database) -> None:
    center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    view = set_owners(db, hid, "m2", "m1", "m3", mode="ordered")
    assert (view.owner, view.co_owners, view.owners_mode) == ("m2", ("m1", "m3"), "ordered")
    assert view.as_json()["co_owners"] == ["m1", "m3"]
    with db.reader() as s:
        trail = audit.trail(s, hid)
    [changed] = [e for e in trail if e.action == "owners"]
    assert (changed.before, changed.after, changed.reason) == (
        "m1",
        "m2,m1,m3 (ordered)",
        "they sell together",
    )
    assert [(e.before, e.after) for e in trail if e.action == "transfer"] == [("m1", "m2")]
    view = set_owners(db, hid, "m2")
    assert (view.owner, view.co_owners) == ("m2", ())


def test_owners_refused_for_an_unknown_agent_without_a_reason_or_while_disputed(db: Database) -> None:
    center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    with pytest.raises(NotFound), db.unit_of_work() as s:
        households.set_owners(s, hid, ["m1", "nobody"], mode="equal", reason="x", actor="ops")
    with pytest.raises(NotFound), db.unit_of_work() as s:
        households.set_owners(s, 999, ["m1"], mode="equal", reason="x", actor="ops")
    with pytest.raises(InvalidInput), db.unit_of_work() as s:
        households.set_owners(s, hid, ["m1", "m2"], mode="equal", reason=" ", actor="ops")
    with pytest.raises(InvalidInput), db.unit_of_work() as s:
        households.set_owners(s, hid, ["m1", "m2"], mode="together", reason="x", actor="ops")
    with db.unit_of_work() as s:
        disputes.open_dispute(s, hid, ["m1", "m2"], reason="both", actor="sv")
    with pytest.raises(Conflict), db.unit_of_work() as s:
        households.set_owners(s, hid, ["m1", "m2"], mode="equal", reason="x", actor="ops")


def test_equal_co_owners_ring_together_and_each_is_claimed(db: Database) -> None:
    router = center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    set_owners(db, hid, "m1", "m2")
    decision = router.decide(new_call(), claim=1)
    first, second, *rest = decision.plan.attempts
    assert [(a.agent, a.reason, a.group) for a in (first, second)] == [("m1", OWNER, 1), ("m2", OWNER, 1)]
    assert [a.group for a in rest] == [0] * len(rest)
    assert decision.plan.targets()[0] == (first, second)
    assert decision.claimed == (1, 2)
    assert claimed_by(db) == {"m1": decision.call.uid, "m2": decision.call.uid}


def test_a_paused_equal_co_owner_is_left_out_of_the_group_and_said_why(db: Database) -> None:
    router = center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    set_owners(db, hid, "m1", "m2", "m3")
    set_state(db, "m2", "paused")
    decision = router.decide(new_call(), claim=1)
    assert [(a.agent, a.group) for a in decision.plan.attempts[:2]] == [("m1", 1), ("m3", 1)]
    assert claimed_by(db) == {"m1": decision.call.uid, "m3": decision.call.uid}
    explained = router.explain_why(NUMBER, None)
    assert ("m2", SKIP_PAUSED) in [(s.agent, s.why) for s in explained.skipped]


def test_ordered_co_owners_ring_in_order_before_the_pool(db: Database) -> None:
    router = center(db, msk=3)
    hid = household(db, "m3", NUMBER)
    set_owners(db, hid, "m3", "m1", mode="ordered")
    plan = router.decide(new_call()).plan
    assert [(a.agent, a.reason, a.group) for a in plan.attempts[:3]] == [
        ("m3", OWNER, 0),
        ("m1", OWNER, 0),
        ("m2", "office-pool", 0),
    ]
    set_state(db, "m3", "paused")
    plan = router.decide(new_call()).plan
    assert [(a.agent, a.reason) for a in plan.attempts[:2]] == [("m1", OWNER), ("m2", "office-pool")]


def test_an_open_dispute_rings_the_contested_managers_together(db: Database) -> None:
    router = center(db, msk=3)
    keep = household(db, "m1", NUMBER)
    other = household(db, "s1", SPOUSE)
    with db.unit_of_work() as s:
        households.merge(s, keep, other, actor="ops", reason="one family")
    decision = router.decide(new_call(), claim=1)
    assert [(a.agent, a.group) for a in decision.plan.attempts[:2]] == [("m1", 1), ("s1", 1)]
    assert claimed_by(db) == {"m1": decision.call.uid, "s1": decision.call.uid}


def test_resolving_a_dispute_with_co_owners_makes_them_the_familys(db: Database) -> None:
    router = center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    with db.unit_of_work() as s:
        opened = disputes.open_dispute(s, hid, ["m1", "m2"], reason="both", actor="sv")
    with db.unit_of_work() as s:
        disputes.resolve(
            s, opened.id, owner="m2", co_owners=["m1"], policy="equal", reason="share", actor="sv"
        )
    with db.reader() as s:
        view = household_reads.household_view(household_reads.get_household(s, hid))
    assert (view.owner, view.co_owners, view.owners_mode) == ("m2", ("m1",), "equal")
    plan = router.decide(new_call()).plan
    assert [(a.agent, a.group) for a in plan.attempts[:2]] == [("m2", 1), ("m1", 1)]


def test_the_co_owner_who_answers_is_the_owner_answering_and_the_others_are_freed(db: Database) -> None:
    router = center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    set_owners(db, hid, "m1", "m2")
    decision = router.decide(new_call(), claim=1)
    router.record(decision.id, 1, outcome("NOANSWER"), decision)
    recorded = router.record(decision.id, 2, outcome("ANSWER"), decision, free_the_rest=True)
    assert (recorded.agent, recorded.covering_for) == ("m2", None)
    assert claimed_by(db) == {}
    with db.reader() as s:
        [entry] = ledger.entries(s, household=hid)
    assert entry.answered_by == "m2"
    assert [(a.agent, a.status, a.covering_for) for a in entry.attempts] == [
        ("m1", "NOANSWER", None),
        ("m2", "ANSWER", None),
    ]


def test_a_booking_of_equal_co_owners_splits_equally_among_them_to_the_kopeck(
    db: Database, tmp_path: Path
) -> None:
    router = center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    set_owners(db, hid, "m1", "m2", "m3")
    decision = router.decide(new_call(at=CLOSED - timedelta(days=2)))
    router.record(decision.id, 1, outcome(at=CLOSED - timedelta(days=2)))  # only m1 answered
    path = tmp_path / "bookings.csv"
    path.write_text(f"booking,household,amount,closed_at\nB1,{hid},1000.00,{CLOSED.isoformat()}\n")
    with db.reader() as s:
        [default] = split_report.report(s, split_report.read_bookings(path), policy="equal", region="RU")
        [talk] = split_report.report(s, split_report.read_bookings(path), policy="talk-time", region="RU")
    assert default.policy == CO_OWNERS
    assert [(x.agent, format_amount(x.amount)) for x in default.shares] == [
        ("m1", "333.34"),
        ("m2", "333.33"),
        ("m3", "333.33"),
    ]
    assert sum(x.amount for x in default.shares) == 100000
    assert default.as_json()["co_owners"] == ["m1", "m2", "m3"]
    assert [len(x.evidence) for x in default.shares] == [1, 0, 0]
    # Another policy says otherwise: by talk time, all of it is m1's.
    assert (talk.policy, [x.agent for x in talk.shares], talk.co_owners) == ("talk-time", ["m1"], ())


def test_route_explains_who_rings_together(
    db: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    set_owners(db, hid, "m1", "m2")
    shown = json.loads(run_cli(capsys, db_url, "route", NUMBER, "--json").out)
    assert [(a["agent"], a.get("group")) for a in shown["plan"][:3]] == [("m1", 1), ("m2", 1), ("m3", None)]
    text = run_cli(capsys, db_url, "route", NUMBER).out
    assert "rung together: m1, m2 (PJSIP/101&PJSIP/102)" in text


def test_a_co_owner_made_owner_by_a_transfer_or_merge_is_no_longer_a_co_owner(db: Database) -> None:
    center(db, msk=3)
    hid = household(db, "m1", NUMBER)
    set_owners(db, hid, "m1", "m2", "m3")
    with db.unit_of_work() as s:
        view = households.transfer(s, hid, "m2", reason="m1 left", actor="ops")
    assert (view.owner, view.co_owners) == ("m2", ("m3",))
    other = household(db, "m3", SPOUSE)
    with db.unit_of_work() as s:
        view = households.merge(s, hid, other, owner="m3", actor="ops", reason="one family")
    assert (view.owner, view.co_owners) == ("m3", ())
    with db.unit_of_work() as s:
        view = households.transfer(s, hid, None, reason="nobody", actor="ops")
    assert (view.owner, view.co_owners) == (None, ())
