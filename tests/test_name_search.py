"""Name search reads the index of folded name words, kept with every name written.

A name typed in Cyrillic or in any usual Latin spelling finds the family,
whichever way the name was written, whether it came with the card, with a
member added later, with a merge, a CSV import or a lead; every typed word
must be in one of the family's names. The search reads the index (no
folding of the whole directory): the plan SQLite makes for it says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from router.directory import household_csv, household_reads, households
from router.storage.db import Database
from router.storage.models import NameWord
from tests.test_households import A, B, C, add, staffed

__all__ = ["staffed"]


def found(db: Database, typed: str) -> list[int]:
    with db.reader() as s:
        return [f.id for f in household_reads.search(s, typed, "RU")]


def test_a_cyrillic_name_and_its_latin_spelling_both_find_the_family(staffed: Database) -> None:
    ivanovs = add(staffed, A, name="Ивановы", members=("Иванова Юлия Петровна",))
    add(staffed, B, members=("Петров Олег",))
    for typed in ("Иванова Юлия", "Ivanova Yulia", "ivanova iuliia", "Julia Ivanova", "ИВАН", "юл петр"):
        assert found(staffed, typed) == [ivanovs], typed
    assert found(staffed, "Ivanova Oleg") == []
    with staffed.reader() as s:
        [hit] = household_reads.search(s, "Yulia", "RU")
    assert hit.matched == "Иванова Юлия Петровна"


def test_a_member_added_later_and_a_merged_familys_names_are_found(staffed: Database) -> None:
    keep = add(staffed, A, name="Соколовы")
    other = add(staffed, B, members=("Щукин Фёдор",))
    with staffed.unit_of_work() as s:
        households.add_member(s, keep, "Sokolova Yelena", actor="admin")
    assert found(staffed, "Соколова Елена") == [keep]
    assert found(staffed, "Shchukin Fyodor") == [other]
    with staffed.unit_of_work() as s:
        households.merge(s, keep, other, actor="admin", reason="one family")
    assert found(staffed, "щукин федор") == [keep]
    assert found(staffed, "Sokolovy") == [keep]
    with staffed.reader() as s:
        left = s.scalar(select(func.count()).select_from(NameWord).where(NameWord.household_id == other))
    assert left == 0


def test_an_imported_familys_names_are_found(staffed: Database, tmp_path: Path) -> None:
    path = tmp_path / "families.csv"
    path.write_text(
        "id,name,owner,members,numbers,email,address,created_at,last_contact_at\n"
        f",Кузнецовы,,Кузнецов Пётр;Кузнецова Анна,{C},,,,\n",
        encoding="utf-8",
    )
    with staffed.unit_of_work() as s:
        household_csv.import_households(s, path, region="RU", actor="admin")
    with staffed.reader() as s:
        imported = household_reads.resolve(s, C, "RU").id
    assert found(staffed, "Kuznetsov Pyotr") == [imported]
    assert found(staffed, "кузнецова анна") == [imported]
    assert found(staffed, "Kuznetsova Pyotr") == []


def test_name_search_reads_the_index_of_words_not_every_name(staffed: Database) -> None:
    if staffed.backend != "sqlite":
        pytest.skip("the query plan is read from SQLite's EXPLAIN QUERY PLAN")
    add(staffed, A, name="Ивановы", members=("Иванова Юлия",))
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(staffed.engine, "before_cursor_execute", keep)
    try:
        assert len(found(staffed, "Ivanova Yulia")) == 1
    finally:
        event.remove(staffed.engine, "before_cursor_execute", keep)
    [(search, parameters)] = [(q, p) for q, p in statements if "name_words" in q]
    assert "households" not in search
    with staffed.engine.connect() as connection:
        plan = " ".join(
            str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {search}", parameters)
        )
    assert "ix_name_words_word_household" in plan and "SCAN name_words" not in plan
    # Read in the index's order, so the page stops early: no sort of every family with the name.
    assert "TEMP B-TREE" not in plan


def test_a_page_of_a_common_name_is_the_first_families_each_counted_once(staffed: Database) -> None:
    """Every name of these families has the typed word: the page still counts families, not names."""
    ids = [add(staffed, name="Иванов", members=("Иванов Пётр", "Иванов Олег")) for _ in range(8)]
    with staffed.reader() as s:
        page = household_reads.search_names(s, "Иванов", limit=5)
    assert [f.id for f in page] == ids[:5]
    assert {f.matched for f in page} == {"Иванов"}  # the family's own name first, not a member's
