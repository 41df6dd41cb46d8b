"""Household admin operations as Python functions, on both backends.

Each operation is checked for its effect, its refusal, and the audit row it
leaves (action, before, after, reason, actor); a refused operation inside a
unit of work must leave nothing behind.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from router.directory import audit, household_reads, households, offices
from router.directory.household_reads import NumberSpec
from router.errors import Conflict, InvalidInput, NotFound
from router.storage.db import Database
from router.storage.models import Exclusion, Household, Member, PhoneNumber
from router.storage.views import AuditView

A = "+79161234567"
B = "+79167654321"
C = "+79035550101"


@pytest.fixture
def staffed(db: Database) -> Database:
    """Office msk with agents ivanova and petrov."""
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_agent(s, "ivanova", office="msk", dial="PJSIP/101")
        offices.add_agent(s, "petrov", office="msk", dial="PJSIP/102")
    return db


def add(
    db: Database, *numbers: str, owner: str | None = None, name: str = "", members: tuple[str, ...] = ()
) -> int:
    with db.unit_of_work() as s:
        view = households.add_household(
            s,
            name=name,
            members=members,
            numbers=[NumberSpec(n) for n in numbers],
            owner=owner,
            actor="admin",
        )
    return view.id


def trail(db: Database, household: int | None = None) -> list[AuditView]:
    with db.reader() as s:
        return audit.trail(s, household)


def count(db: Database, model: type) -> int:
    with db.reader() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def numbers_of(db: Database, household: int) -> list[tuple[str, str]]:
    with db.reader() as s:
        view = household_reads.household_view(household_reads.get_household(s, household))
    return [(n.number, n.label) for n in view.numbers]


def test_add_household_keeps_name_members_numbers_owner_and_audits_creation(staffed: Database) -> None:
    with staffed.unit_of_work() as s:
        view = households.add_household(
            s,
            name="Ивановы",
            members=["Иванова Мария", "Иванов Пётр"],
            numbers=[NumberSpec(A), NumberSpec(B, "spouse")],
            owner="ivanova",
            actor="admin",
        )
    assert view.name == "Ивановы"
    assert view.members == ("Иванова Мария", "Иванов Пётр")
    assert [(n.number, n.label) for n in view.numbers] == [(A, "mobile"), (B, "spouse")]
    assert view.owner == "ivanova"
    assert view.created_at is not None and view.last_contact_at is None
    [row] = trail(staffed, view.id)
    assert (row.action, row.actor, row.before) == ("create", "admin", "")
    assert row.after == f"owner=ivanova numbers={A},{B}"


def test_add_household_refuses_a_number_of_another_household_and_writes_nothing(staffed: Database) -> None:
    first = add(staffed, A, owner="ivanova")
    with pytest.raises(Conflict) as refused:
        add(staffed, B, A, name="second")
    assert str(refused.value) == (
        f"number {A} belongs to household {first} “without a name” (owner ivanova); "
        "move it with `number link --move`"
    )
    assert count(staffed, Household) == 1
    assert count(staffed, PhoneNumber) == 1


def test_add_household_refuses_the_same_number_twice(staffed: Database) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"number {A} is given twice")):
        add(staffed, A, A)
    assert count(staffed, Household) == 0


def test_add_household_with_unknown_owner_is_not_found(staffed: Database) -> None:
    with pytest.raises(NotFound, match="no agent 'nobody'"):
        add(staffed, A, owner="nobody")
    assert count(staffed, Household) == 0


def test_lookup_finds_household_and_owner_by_any_number(staffed: Database) -> None:
    hid = add(staffed, A, B, owner="petrov")
    unowned = add(staffed, C)
    with staffed.reader() as s:
        found = household_reads.lookup(s, B)
        assert found is not None
        assert (found.household_id, found.owner_login) == (hid, "petrov")
        assert found.owner_id is not None
        nobody = household_reads.lookup(s, C)
        assert nobody is not None and (nobody.household_id, nobody.owner_login, nobody.owner_id) == (
            unowned,
            None,
            None,
        )
        assert household_reads.lookup(s, "+79990000000") is None


def test_link_adds_a_number_and_audits_it(staffed: Database) -> None:
    hid = add(staffed, A)
    with staffed.unit_of_work() as s:
        households.link(s, C, hid, label="work", actor="ops", reason="client asked")
    assert numbers_of(staffed, hid) == [(A, "mobile"), (C, "work")]
    row = trail(staffed, hid)[-1]
    assert (row.action, row.subject, row.before, row.after, row.reason, row.actor) == (
        "link",
        C,
        "",
        "work",
        "client asked",
        "ops",
    )


def test_link_of_another_households_number_is_refused_in_one_line(staffed: Database) -> None:
    owned = add(staffed, A, owner="ivanova")
    unowned = add(staffed, B)
    target = add(staffed, C)
    with pytest.raises(Conflict) as refused, staffed.unit_of_work() as s:
        households.link(s, A, target, actor="ops")
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        f"number {A} belongs to household {owned} “without a name” (owner ivanova); use --move to move it"
    )
    with (
        pytest.raises(Conflict, match=f"belongs to household {unowned} “without a name” \\(owner none\\)"),
        staffed.unit_of_work() as s,
    ):
        households.link(s, B, target, actor="ops")
    assert numbers_of(staffed, owned) == [(A, "mobile")]
    assert numbers_of(staffed, target) == [(C, "mobile")]
    assert [r.action for r in trail(staffed)] == ["create", "create", "create"]


def test_link_with_move_takes_the_number_and_audits_both_households(staffed: Database) -> None:
    source = add(staffed, A, B, owner="ivanova")
    target = add(staffed, C, owner="petrov")
    with staffed.unit_of_work() as s:
        view = households.link(s, B, target, label="spouse", move=True, actor="ops", reason="divorce")
    assert sorted((n.number, n.label) for n in view.numbers) == sorted([(C, "mobile"), (B, "spouse")])
    assert numbers_of(staffed, source) == [(A, "mobile")]
    for hid in (source, target):
        row = [r for r in trail(staffed, hid) if r.action == "move"][-1]
        assert (row.action, row.subject, row.before, row.after, row.reason, row.actor) == (
            "move",
            B,
            f"household {source}",
            f"household {target}",
            "divorce",
            "ops",
        )
    with staffed.reader() as s:
        found = household_reads.lookup(s, B)
    assert found is not None and (found.household_id, found.owner_login) == (target, "petrov")


def test_link_with_move_of_a_free_number_simply_links_it(staffed: Database) -> None:
    hid = add(staffed)
    with staffed.unit_of_work() as s:
        households.link(s, A, hid, move=True, actor="ops")
    assert numbers_of(staffed, hid) == [(A, "mobile")]
    assert trail(staffed, hid)[-1].action == "link"


def test_relinking_a_number_to_its_household_changes_only_the_label(staffed: Database) -> None:
    hid = add(staffed, A)
    with staffed.unit_of_work() as s:
        households.link(s, A, hid, label="home", actor="ops")
    assert numbers_of(staffed, hid) == [(A, "home")]
    row = trail(staffed, hid)[-1]
    assert (row.action, row.subject, row.before, row.after) == ("relabel", A, "mobile", "home")
    with staffed.unit_of_work() as s:
        households.link(s, A, hid, label="home", actor="ops")
    assert len(trail(staffed, hid)) == 2


def test_link_refuses_unknown_household_and_bad_label(staffed: Database) -> None:
    hid = add(staffed)
    with pytest.raises(NotFound, match="no household 999"), staffed.unit_of_work() as s:
        households.link(s, A, 999, actor="ops")
    with pytest.raises(InvalidInput, match="label must be one of"), staffed.unit_of_work() as s:
        households.link(s, A, hid, label="pager", actor="ops")
    assert count(staffed, PhoneNumber) == 0


def test_unlink_removes_the_number_and_audits_it(staffed: Database) -> None:
    hid = add(staffed, A, B)
    with staffed.unit_of_work() as s:
        assert households.unlink(s, A, actor="ops", reason="wrong number") == hid
    assert numbers_of(staffed, hid) == [(B, "mobile")]
    row = trail(staffed, hid)[-1]
    assert (row.action, row.subject, row.before, row.after, row.reason, row.actor) == (
        "unlink",
        A,
        f"household {hid}",
        "",
        "wrong number",
        "ops",
    )
    with staffed.reader() as s:
        assert household_reads.lookup(s, A) is None
    with pytest.raises(NotFound, match=re.escape(f"number {A} is not linked")), staffed.unit_of_work() as s:
        households.unlink(s, A, actor="ops")


def test_merge_moves_numbers_members_and_exclusions_and_deletes_the_other(staffed: Database) -> None:
    keep = add(staffed, A, owner="ivanova", name="Ивановы", members=("Иванова Мария",))
    other = add(staffed, B, C, owner="ivanova", members=("Иванов Пётр",))
    with staffed.unit_of_work() as s:
        households.exclude(s, other, "petrov", actor="ops")
        view = households.merge(s, keep, other, actor="ops", reason="same family")
    assert view.id == keep
    assert view.owner == "ivanova"
    assert view.members == ("Иванова Мария", "Иванов Пётр")
    assert sorted(n.number for n in view.numbers) == sorted([A, B, C])
    with staffed.reader() as s:
        assert s.get(Household, other) is None
        assert s.scalars(select(Exclusion.agent_id).where(Exclusion.household_id == keep)).all()
        found = household_reads.lookup(s, C)
    assert found is not None and found.household_id == keep
    assert count(staffed, Member) == 2
    # Each id's trail is the survivor's: the merged household's rows count for it.
    assert trail(staffed, keep) == trail(staffed, other)
    kept_rows = [r for r in trail(staffed, keep) if r.action == "merge" and r.household == keep]
    other_rows = [r for r in trail(staffed, keep) if r.action == "merge" and r.household == other]
    assert len(kept_rows) == len(other_rows) == 1
    assert kept_rows[0].subject == f"household {other}"
    assert other_rows[0].subject == f"into household {keep}"
    assert kept_rows[0].before == f"{keep}: owner=ivanova numbers={A}; {other}: owner=ivanova numbers={B},{C}"
    assert kept_rows[0].after.startswith(f"{keep}: owner=ivanova numbers=")
    assert (kept_rows[0].reason, kept_rows[0].actor) == ("same family", "ops")
    assert not [r for r in trail(staffed, keep) if r.action == "owner"]


def test_merge_of_households_with_different_owners_with_a_chosen_owner_gives_it_to_them(
    staffed: Database,
) -> None:
    keep = add(staffed, A, owner="ivanova")
    other = add(staffed, B, owner="petrov")
    with staffed.unit_of_work() as s:
        view = households.merge(s, keep, other, owner="petrov", actor="ops")
    assert view.owner == "petrov"
    [owner_row] = [r for r in trail(staffed, keep) if r.action == "owner"]
    assert (owner_row.before, owner_row.after, owner_row.reason, owner_row.actor) == (
        "ivanova",
        "petrov",
        f"merge of household {other}",
        "ops",
    )


def test_merge_keeps_the_only_owner_when_one_side_has_none(staffed: Database) -> None:
    keep = add(staffed, A)
    other = add(staffed, B, owner="petrov")
    with staffed.unit_of_work() as s:
        view = households.merge(s, keep, other, actor="ops")
    assert view.owner == "petrov"
    [owner_row] = [r for r in trail(staffed, keep) if r.action == "owner"]
    assert (owner_row.before, owner_row.after) == ("", "petrov")


def test_merge_refuses_itself_and_unknown_households(staffed: Database) -> None:
    keep = add(staffed, A)
    with pytest.raises(InvalidInput, match="into itself"), staffed.unit_of_work() as s:
        households.merge(s, keep, keep, actor="ops")
    with pytest.raises(NotFound, match="no household 999"), staffed.unit_of_work() as s:
        households.merge(s, keep, 999, actor="ops")
    other = add(staffed, B)
    with pytest.raises(NotFound, match="no agent 'nobody'"), staffed.unit_of_work() as s:
        households.merge(s, keep, other, owner="nobody", actor="ops")
    assert count(staffed, Household) == 2


def test_transfer_changes_the_owner_with_a_reason_and_audits_it(staffed: Database) -> None:
    hid = add(staffed, A, owner="ivanova")
    with staffed.unit_of_work() as s:
        view = households.transfer(s, hid, "petrov", reason="left the company", actor="boss")
    assert view.owner == "petrov"
    row = trail(staffed, hid)[-1]
    assert (row.action, row.before, row.after, row.reason, row.actor) == (
        "transfer",
        "ivanova",
        "petrov",
        "left the company",
        "boss",
    )
    with staffed.reader() as s:
        found = household_reads.lookup(s, A)
    assert found is not None and found.owner_login == "petrov"


def test_transfer_refuses_no_reason_unknown_agent_and_unknown_household(staffed: Database) -> None:
    hid = add(staffed, A, owner="ivanova")
    with pytest.raises(InvalidInput, match="needs a reason"), staffed.unit_of_work() as s:
        households.transfer(s, hid, "petrov", reason="  ", actor="boss")
    with pytest.raises(NotFound, match="no agent 'nobody'"), staffed.unit_of_work() as s:
        households.transfer(s, hid, "nobody", reason="x", actor="boss")
    with pytest.raises(NotFound, match="no household 999"), staffed.unit_of_work() as s:
        households.transfer(s, 999, "petrov", reason="x", actor="boss")
    with staffed.reader() as s:
        assert household_reads.household_view(household_reads.get_household(s, hid)).owner == "ivanova"
    assert [r.action for r in trail(staffed, hid)] == ["create"]


def test_exclude_is_audited_once(staffed: Database) -> None:
    hid = add(staffed, A, owner="ivanova")
    for _ in range(2):
        with staffed.unit_of_work() as s:
            households.exclude(s, hid, "petrov", actor="boss", reason="rude")
    rows = [r for r in trail(staffed, hid) if r.action == "exclude"]
    assert [(r.subject, r.reason, r.actor) for r in rows] == [("petrov", "rude", "boss")]
    with pytest.raises(NotFound), staffed.unit_of_work() as s:
        households.exclude(s, hid, "nobody", actor="boss")


def test_resolve_by_id_or_by_any_spelling_of_a_number(staffed: Database) -> None:
    hid = add(staffed, A, B)
    with staffed.reader() as s:
        assert household_reads.resolve(s, str(hid), "RU").id == hid
        assert household_reads.resolve(s, "8 (916) 765-43-21", "RU").id == hid
        with pytest.raises(NotFound, match="no household has number"):
            household_reads.resolve(s, "+7 903 000 00 00", "RU")
        with pytest.raises(NotFound, match="no household 4242"):
            household_reads.resolve(s, "4242", "RU")
        with pytest.raises(InvalidInput, match="not a valid phone number"):
            household_reads.resolve(s, "+7 916 12", "RU")


def test_list_households_in_id_order_and_by_owner(staffed: Database) -> None:
    first = add(staffed, A, owner="ivanova")
    second = add(staffed, B, owner="petrov")
    third = add(staffed, C, owner="ivanova")
    with staffed.reader() as s:
        assert [v.id for v in household_reads.list_households(s)] == [first, second, third]
        assert [v.id for v in household_reads.list_households(s, "ivanova")] == [first, third]
        with pytest.raises(NotFound):
            household_reads.list_households(s, "nobody")


def test_parse_number_spec_normalizes_and_checks_the_label() -> None:
    assert household_reads.parse_number_spec("8 916 123-45-67=home", "RU") == NumberSpec(A, "home")
    assert household_reads.parse_number_spec("9161234567", "RU") == NumberSpec(A, "mobile")
    with pytest.raises(InvalidInput, match="label must be one of"):
        household_reads.parse_number_spec(f"{A}=fax", "RU")
    with pytest.raises(InvalidInput, match="not a valid phone number"):
        household_reads.parse_number_spec("unknown", "RU")
