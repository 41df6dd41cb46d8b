"""The directory rules the console needed (issue 16 item 11 and issue 19), as router functions and CLI.

Include undoes an exclusion; the household's own owner cannot be excluded; a
number is relabelled only within its household; a member is added with an
audit row; a refused link names the household that holds the number; the
one search box finds a number in any spelling and a name in either script.
"""

from __future__ import annotations

import pytest

from router.directory import audit, household_reads, households, owner_history
from router.errors import Conflict, InvalidInput, NotFound
from router.storage.db import Database
from router.storage.models import Exclusion
from tests.helpers import run_cli
from tests.test_households import A, B, C, add, count, staffed, trail

__all__ = ["staffed"]


def test_include_undoes_an_exclusion_and_is_audited(staffed: Database) -> None:
    hid = add(staffed, A, owner="ivanova")
    with staffed.unit_of_work() as s:
        households.exclude(s, hid, "petrov", actor="boss", reason="rude")
    with staffed.unit_of_work() as s:
        households.include(s, hid, "petrov", actor="chief", reason="apologised")
    assert count(staffed, Exclusion) == 0
    row = trail(staffed, hid)[-1]
    assert (row.action, row.subject, row.reason, row.actor) == ("include", "petrov", "apologised", "chief")
    with pytest.raises(NotFound, match="not excluded"), staffed.unit_of_work() as s:
        households.include(s, hid, "petrov", actor="chief")


def test_excluding_the_households_own_owner_is_refused(staffed: Database) -> None:
    hid = add(staffed, A, owner="ivanova")
    with pytest.raises(Conflict, match="ivanova owns household"), staffed.unit_of_work() as s:
        households.exclude(s, hid, "ivanova", actor="boss")
    assert count(staffed, Exclusion) == 0
    assert [r.action for r in trail(staffed, hid)] == ["create"]


def test_relabel_only_a_number_of_this_household(staffed: Database) -> None:
    mine = add(staffed, A)
    add(staffed, B)
    with staffed.unit_of_work() as s:
        view = households.relabel(s, A, mine, "spouse", actor="boss")
    assert view.numbers[0].label == "spouse"
    assert trail(staffed, mine)[-1].action == "relabel"
    with pytest.raises(NotFound), staffed.unit_of_work() as s:
        households.relabel(s, B, mine, "home", actor="boss")
    with pytest.raises(InvalidInput), staffed.unit_of_work() as s:
        households.relabel(s, A, mine, "fax", actor="boss")


def test_add_member_is_audited_and_refuses_an_empty_name(staffed: Database) -> None:
    hid = add(staffed, A, members=("Иванов Иван",))
    with staffed.unit_of_work() as s:
        view = households.add_member(s, hid, " Иванова Мария ", actor="boss")
    assert view.members == ("Иванов Иван", "Иванова Мария")
    assert (trail(staffed, hid)[-1].action, trail(staffed, hid)[-1].subject) == ("member", "Иванова Мария")
    with pytest.raises(InvalidInput), staffed.unit_of_work() as s:
        households.add_member(s, hid, "  ", actor="boss")


def test_a_refused_link_names_the_household_that_holds_the_number(staffed: Database) -> None:
    theirs = add(staffed, A, owner="petrov", name="Петровы")
    mine = add(staffed, B)
    with pytest.raises(households.NumberTaken) as refused, staffed.unit_of_work() as s:
        households.link(s, A, mine, actor="boss")
    assert (refused.value.household_id, refused.value.household_name, refused.value.owner) == (
        theirs,
        "Петровы",
        "petrov",
    )


def test_search_finds_a_number_in_any_spelling_and_a_name_in_either_script(staffed: Database) -> None:
    ivanov = add(staffed, A, B, name="Ивановы", members=("Иванов Иван", "Иванова Мария"))
    petrov = add(staffed, C, members=("Petrov Oleg",))
    with staffed.reader() as s:
        assert [f.id for f in household_reads.search(s, "8 (916) 765-43-21", "RU")] == [ivanov]
        assert [f.id for f in household_reads.search(s, "9161234567", "RU")] == [ivanov]
        assert [f.id for f in household_reads.search(s, "Ivanova Maria", "RU")] == [ivanov]
        assert [f.id for f in household_reads.search(s, "петров", "RU")] == [petrov]
        assert household_reads.search(s, "+7 903 000 00 00", "RU") == []
        assert household_reads.search(s, "Сидоров", "RU") == []


def test_owner_history_tells_creation_transfer_and_lapse(staffed: Database) -> None:
    hid = add(staffed, A, owner="ivanova")
    with staffed.unit_of_work() as s:
        households.transfer(s, hid, "petrov", reason="ivanova left", actor="chief")
    with staffed.unit_of_work() as s:
        households.transfer(s, hid, None, reason="no contact", actor="router", action="lapse")
    with staffed.reader() as s:
        events = owner_history.owner_history(s, hid)
    assert [(e.kind, e.owner, e.previous, e.by, e.reason) for e in events] == [
        ("created", "ivanova", "", "admin", ""),
        ("transferred", "petrov", "ivanova", "chief", "ivanova left"),
        ("lapsed", "", "petrov", "router", "no contact"),
    ]


def test_audit_filters_by_actor_action_and_period(staffed: Database) -> None:
    hid = add(staffed, A, owner="ivanova")
    with staffed.unit_of_work() as s:
        households.link(s, B, hid, actor="console:anna")
    with staffed.reader() as s:
        everything = audit.trail(s)
        assert [r.action for r in audit.trail(s, actor="console:anna")] == ["link"]
        assert [r.actor for r in audit.trail(s, action="create")] == ["admin"]
        assert audit.trail(s, until=everything[0].at) == []
        assert len(audit.trail(s, since=everything[0].at)) == 2


def test_cli_household_include_member_and_number_relabel(
    staffed: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    hid = add(staffed, A, owner="ivanova")
    url = staffed.url
    assert run_cli(capsys, url, "household", "exclude", str(hid), "petrov").code == 0
    result = run_cli(capsys, url, "household", "include", str(hid), "petrov", "--reason", "ok")
    assert result.code == 0, result.err
    assert run_cli(capsys, url, "household", "exclude", str(hid), "ivanova").code == 4
    result = run_cli(capsys, url, "household", "member", str(hid), "Иванова Мария")
    assert result.code == 0 and "Иванова Мария" in result.out
    result = run_cli(capsys, url, "number", "relabel", "8 916 123-45-67", str(hid), "home")
    assert result.code == 0, result.err
    result = run_cli(capsys, url, "audit", "--by", "tester", "--action", "include", "--json")
    assert '"action": "include"' in result.out and '"actor": "tester"' in result.out
