"""A pair of households a person said are not one family is never suggested again, in either order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from router.directory import audit, household_reads, households, suggestions
from router.errors import InvalidInput
from router.storage.db import Database


def two_alike(db: Database) -> tuple[int, int]:
    with db.unit_of_work() as s:
        old = households.add_household(
            s,
            members=["Иванов Иван"],
            email="ivanovy@mail.ru",
            actor="t",
            numbers=[household_reads.NumberSpec("+79161234567")],
        ).id
        new = households.add_household(
            s,
            members=["Иванова Мария"],
            email="ivanovy@mail.ru",
            actor="router",
            origin="call",
            numbers=[household_reads.NumberSpec("+79265550000")],
        ).id
    return old, new


def test_a_rejected_pair_leaves_the_queue_in_either_order(db: Database) -> None:
    old, new = two_alike(db)
    with db.reader() as s:
        index = suggestions.load_index(s)
        pairs = suggestions.household_pairs(index)
        queued = suggestions.queue(s, index, pairs, days=1)
    assert [(q.keep, q.other, q.kind) for q in queued] == [(old, new, suggestions.FROM_CALL)]
    with db.unit_of_work() as s:
        assert suggestions.reject(s, new, old, actor="sveta", reason="тёзки")
        assert not suggestions.reject(s, old, new, actor="sveta")
    with db.reader() as s:
        assert suggestions.queue(s, index, pairs, days=1) == []
        assert suggestions.concerning(s, index, old) == []
        assert [a.actor for a in audit.trail(s, old, action=suggestions.REJECT)] == ["sveta"]
        assert [a.subject for a in audit.trail(s, new, action=suggestions.REJECT)] == [f"household {old}"]


def test_a_pair_with_a_household_merged_away_is_not_offered_from_an_old_index(db: Database) -> None:
    old, new = two_alike(db)
    with db.reader() as s:
        index = suggestions.load_index(s)
        pairs = suggestions.household_pairs(index)
    with db.unit_of_work() as s:
        households.merge(s, old, new, actor="t", reason="одна семья")
    with db.reader() as s:
        assert suggestions.queue(s, index, pairs, days=1, now=datetime.now(UTC)) == []


def test_a_household_is_not_a_suggestion_for_itself(db: Database) -> None:
    old, _ = two_alike(db)
    with db.unit_of_work() as s, pytest.raises(InvalidInput):
        suggestions.reject(s, old, old, actor="t")
