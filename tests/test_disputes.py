"""Disputes on both backends: opened by a supervisor, a merge or a move; the freeze; the resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from router.directory import audit, disputes, handover, household_reads, households, offices
from router.errors import Conflict, InvalidInput
from router.splits import bookings, timeline
from router.storage.db import Database
from router.storage.models import Household
from tests.routing_helpers import MSK_LINE, NUMBER, SPOUSE, center, household, new_call, outcome


def owner_of(db: Database, hid: int) -> str | None:
    with db.reader() as s:
        return household_reads.household_view(household_reads.get_household(s, hid)).owner


def merged_in_dispute(db: Database) -> tuple[int, disputes.DisputeView]:
    """Families of NUMBER (owner m1) and SPOUSE (owner m2) merged with nobody choosing the owner."""
    keep = household(db, "m1", NUMBER)
    other = household(db, "m2", SPOUSE)
    with db.unit_of_work() as s:
        households.merge(s, keep, other, actor="ops", reason="one family")
    with db.reader() as s:
        [opened] = disputes.list_disputes(s, open_only=True)
    return keep, opened


def test_a_merge_of_families_with_different_owners_opens_a_dispute(db: Database) -> None:
    center(db)
    keep, opened = merged_in_dispute(db)
    assert (opened.household, opened.agents, opened.origin) == (keep, ("m1", "m2"), "merge")
    assert owner_of(db, keep) == "m1"  # held as it was until someone decides
    with db.reader() as s:
        [row] = [e for e in audit.trail(s, keep) if e.action == "dispute-open"]
    assert (row.after, row.reason, row.actor) == ("m1,m2", "one family", "ops")


def test_a_dispute_opened_by_a_merge_freezes_the_lapse_of_ownership(db: Database) -> None:
    router = center(db, ownership_lapse_days=30)
    keep, _ = merged_in_dispute(db)
    with db.unit_of_work() as s:
        s.execute(
            update(Household)
            .where(Household.id == keep)
            .values(last_contact_at=datetime.now(UTC) - timedelta(days=90))
        )
    decision = router.decide(new_call())
    assert decision.owner == "m1"
    assert owner_of(db, keep) == "m1"
    with db.reader() as s:
        assert [e for e in audit.trail(s, keep) if e.action == "lapse"] == []


def test_a_dispute_freezes_adoption_by_a_first_answered_call(db: Database) -> None:
    router = center(db)
    hid = household(db, None, NUMBER)
    with db.unit_of_work() as s:
        disputes.open_dispute(s, hid, ["m1", "m2"], reason="both say they found them", actor="sv")
    decision = router.decide(new_call())
    router.record(decision.id, 1, outcome())
    assert owner_of(db, hid) is None
    with db.reader() as s:
        assert [e for e in audit.trail(s, hid) if e.action == "owner"] == []


def test_a_transfer_of_a_disputed_family_is_refused(db: Database) -> None:
    center(db)
    keep, opened = merged_in_dispute(db)
    with pytest.raises(Conflict) as refused, db.unit_of_work() as s:
        households.transfer(s, keep, "m2", reason="he asked", actor="ops")
    assert f"in dispute {opened.id}" in str(refused.value)
    assert owner_of(db, keep) == "m1"


def test_a_handover_leaves_a_disputed_family_out_and_lists_it(db: Database) -> None:
    center(db)
    keep, _ = merged_in_dispute(db)
    calm = household(db, "m1", "+79035550101")
    with db.unit_of_work() as s:
        plan = handover.plan_handover(s, "m1", to="s1")
        handover.apply_handover(s, plan, reason="m1 leaves", actor="ops")
    assert [m.household_id for m in plan.moves] == [calm]
    assert [m.household_id for m in plan.disputed] == [keep]
    assert (owner_of(db, keep), owner_of(db, calm)) == ("m1", "s1")


def test_resolving_a_dispute_records_the_owner_and_the_split(db: Database) -> None:
    center(db)
    keep, opened = merged_in_dispute(db)
    with db.unit_of_work() as s:
        resolved = disputes.resolve(
            s, opened.id, owner="m2", co_owners=["m1"], policy="talk-time", reason="m2 sold", actor="sv"
        )
    assert (resolved.owner, resolved.co_owners, resolved.policy, resolved.is_open) == (
        "m2",
        ("m1",),
        "talk-time",
        False,
    )
    assert owner_of(db, keep) == "m2"
    with db.reader() as s:
        [row] = [e for e in audit.trail(s, keep) if e.action == "resolve"]
        assert disputes.list_disputes(s, open_only=True) == []
    assert (row.before, row.after, row.actor) == ("m1", "m2", "sv")
    assert row.reason == "co-owners m1 (equal); split talk-time: m2 sold"
    with pytest.raises(Conflict), db.unit_of_work() as s:
        disputes.resolve(s, opened.id, owner="m1", policy="equal", reason="again", actor="sv")
    with db.unit_of_work() as s:  # once resolved, ownership moves as it always did
        households.transfer(s, keep, "m1", reason="back", actor="ops")
    assert owner_of(db, keep) == "m1"


def test_a_move_of_a_number_between_owners_opens_a_dispute(db: Database) -> None:
    center(db)
    target = household(db, "m1", NUMBER)
    household(db, "m2", SPOUSE)
    with db.unit_of_work() as s:
        households.link(s, SPOUSE, target, label="spouse", move=True, actor="ops", reason="his wife")
    with db.reader() as s:
        [opened] = disputes.list_disputes(s, open_only=True)
    assert (opened.household, opened.agents, opened.origin) == (target, ("m1", "m2"), "move")


def test_a_dispute_needs_a_reason_two_managers_and_only_one_open(db: Database) -> None:
    center(db)
    hid = household(db, "m1", NUMBER)
    with pytest.raises(InvalidInput), db.unit_of_work() as s:
        disputes.open_dispute(s, hid, ["m1", "m2"], reason=" ", actor="sv")
    with pytest.raises(InvalidInput), db.unit_of_work() as s:
        disputes.open_dispute(s, hid, ["m1", "m1"], reason="x", actor="sv")
    with db.unit_of_work() as s:
        disputes.open_dispute(s, hid, ["m1", "m2"], reason="x", actor="sv")
    with pytest.raises(Conflict), db.unit_of_work() as s:
        disputes.open_dispute(s, hid, ["m1", "s1"], reason="y", actor="sv")


def test_the_router_line_still_reaches_the_owner_of_a_disputed_family(db: Database) -> None:
    router = center(db)
    merged_in_dispute(db)
    assert router.decide(new_call(NUMBER, MSK_LINE)).plan.attempts[0].agent == "m1"


def test_dispute_commands_open_list_show_resolve(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    from router.cli.main import main

    center(db)
    hid = household(db, "m1", NUMBER)
    base = ["--db", db.url, "--actor", "sv"]
    assert main([*base, "dispute", "open", str(hid), "--agents", "m1,m2", "--reason", "both"]) == 0
    assert capsys.readouterr().out == f"dispute 1 open over household {hid}: m1, m2\n"
    assert main([*base, "dispute", "list", "--open"]) == 0
    assert "m1,m2" in capsys.readouterr().out
    assert (
        main([*base, "dispute", "resolve", "1", "--owner", "m2", "--policy", "equal", "--reason", "r"]) == 0
    )
    assert capsys.readouterr().out == f"dispute 1 resolved: household {hid} belongs to m2, split equal\n"
    assert main([*base, "dispute", "show", "1"]) == 0
    assert "owner:   m2; co-owners: none; split: equal" in capsys.readouterr().out
    assert (
        main([*base, "dispute", "resolve", "1", "--owner", "m1", "--policy", "equal", "--reason", "r"]) == 4
    )
    assert main([*base, "dispute", "show", "9"]) == 3
    with db.reader() as s:
        assert offices.get_agent(s, "m2").id == household_reads.get_household(s, hid).owner_id


def booking_split(db: Database, hid: int) -> dict[str, object]:
    with db.reader() as s:
        events = timeline.timeline(s, hid, policy="owner", region="RU").events
    [sale] = [e.as_json() for e in events if e.kind == "booking"]
    return sale["split"]


def test_a_booking_in_the_period_shows_as_disputed_until_it_is_resolved(db: Database) -> None:
    router = center(db)
    keep, opened = merged_in_dispute(db)
    for agent_seq in (1, 2):  # m1 answers one call, m2 (ringing as the pool) answers another
        decision = router.decide(new_call())
        seq = next(a.seq for a in decision.plan.attempts if a.agent == f"m{agent_seq}")
        router.record(decision.id, seq, outcome(talk=30.0 * agent_seq))
    with db.unit_of_work() as s:
        bookings.add_booking(s, keep, ref="T-1", amount=100_00, closed_at=datetime.now(UTC), actor="sv")
    proposed = booking_split(db, keep)
    assert (proposed["status"], proposed["dispute"], proposed["policy"]) == ("disputed", opened.id, "owner")
    with db.unit_of_work() as s:
        disputes.resolve(s, opened.id, owner="m2", policy="equal", reason="both worked it", actor="sv")
    final = booking_split(db, keep)
    assert (final["status"], final["dispute"], final["policy"]) == ("final", opened.id, "equal")
    shares = final["shares"]
    assert isinstance(shares, list)
    assert {s["agent"]: s["amount"] for s in shares} == {"m1": "50.00", "m2": "50.00"}
    with db.reader() as s:
        events = timeline.timeline(s, keep, region="RU").events
    kinds = [e.entry.action for e in events if isinstance(e, timeline.AuditEvent)]
    assert kinds.index("dispute-open") < kinds.index("resolve")


def test_open_disputes_are_exported_by_office_with_the_oldest_ones_age(db: Database) -> None:
    from prometheus_client import generate_latest

    from router import health
    from router.metrics import Metrics

    center(db)
    _, opened = merged_in_dispute(db)
    metrics = Metrics()
    metrics.add_offices(["msk", "spb"])
    metrics.set_disputes(health.open_disputes(db, opened.opened_at + timedelta(days=8)))
    body = generate_latest(metrics.registry).decode()
    assert 'callkeeper_disputes_open{office="msk"} 1.0' in body
    assert 'callkeeper_disputes_open{office="spb"} 0.0' in body
    assert f'callkeeper_dispute_oldest_age_seconds{{office="msk"}} {8 * 86400:.1f}' in body
    with db.unit_of_work() as s:
        disputes.resolve(s, opened.id, owner="m1", policy="owner", reason="hers", actor="sv")
    metrics.set_disputes(health.open_disputes(db, opened.opened_at + timedelta(days=9)))
    assert 'callkeeper_disputes_open{office="msk"} 0.0' in generate_latest(metrics.registry).decode()


def test_a_booking_shared_by_managers_of_different_offices_is_flagged(db: Database) -> None:
    router = center(db)
    hid = household(db, "m1", NUMBER)
    for agent in ("m1", "s1"):  # m1 of msk, then s1 of spb (rung as another office's pool)
        decision = router.decide(new_call())
        seq = next(a.seq for a in decision.plan.attempts if a.agent == agent)
        router.record(decision.id, seq, outcome())
    with db.unit_of_work() as s:
        bookings.add_booking(s, hid, ref="T-2", amount=100_00, closed_at=datetime.now(UTC), actor="sv")
    flagged = booking_split(db, hid)
    assert flagged["offices"] == ["msk", "spb"] and "status" not in flagged
