"""The folded words of every household's names, kept beside the names so that name search uses an index.

Every write of a name comes through here: a new household (`households.add_household`,
a lead's new family), a member added, a merge (the survivor's names read
again), a CSV import (`household_bulk`), and migration 0024 for the names
written before. The words are `identity.names.search_keys`: the one folding
of Cyrillic and Latin spellings, case and ё.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from identity.names import search_keys
from router.storage.models import Household, Member, NameWord

HOUSEHOLD_NAME = 0


def words(name: str, members: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(name_no, word) of one household's name (`name_no` 0) and members (1, 2, ... by position)."""
    for name_no, text in enumerate([name, *members]):
        for word in search_keys(text):
            yield name_no, word


def rows(household_id: int, name: str, members: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"household_id": household_id, "name_no": name_no, "word": word}
        for name_no, word in words(name, members)
    ]


def member_rows(household_id: int, position: int, full_name: str) -> list[dict[str, Any]]:
    return [
        {"household_id": household_id, "name_no": position + 1, "word": word}
        for word in search_keys(full_name)
    ]


def write(connection: Connection, found: list[dict[str, Any]]) -> None:
    if found:
        connection.execute(insert(NameWord), found)


def add(session: Session, household_id: int, name: str, members: Sequence[str]) -> None:
    """A new household's names."""
    write(session.connection(), rows(household_id, name, members))


def add_member(session: Session, household_id: int, position: int, full_name: str) -> None:
    write(session.connection(), member_rows(household_id, position, full_name))


def reindex(session: Session, household_ids: Iterable[int]) -> None:
    """The words of these households read again from their names (after a merge); a gone id keeps none."""
    ids = sorted(set(household_ids))
    session.flush()
    connection = session.connection()
    connection.execute(delete(NameWord).where(NameWord.household_id.in_(ids)))
    names = dict(connection.execute(select(Household.id, Household.name).where(Household.id.in_(ids))).all())
    members: dict[int, list[tuple[int, str]]] = {}
    for household_id, position, full_name in connection.execute(
        select(Member.household_id, Member.position, Member.full_name).where(Member.household_id.in_(ids))
    ):
        members.setdefault(household_id, []).append((position, full_name))
    found: list[dict[str, Any]] = []
    for household_id, name in names.items():
        found.extend(rows(household_id, name, []))
        for position, full_name in members.get(household_id, []):
            found.extend(member_rows(household_id, position, full_name))
    write(connection, found)
