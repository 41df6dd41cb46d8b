"""Which household a merged id lives on as, and which ids a household's evidence carries.

A merge moves a household's numbers and members to the survivor and drops
its row, but the ledger and the audit keep the merged id they were written
with: rewriting them would break the append-only rule, and the evidence must
say what happened when. So a merge leaves a pointer (`household_merges`),
and every evidence read (`ledger --household`, `audit --household`,
`splits`) takes a household together with every id merged into it, and a
merged id as the household it was merged into.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.storage.models import HouseholdMerge


@dataclass(frozen=True, slots=True)
class Merged:
    """Household `merged` was merged into `into` at `at`."""

    merged: int
    into: int
    at: datetime


def record(session: Session, merged_id: int, into_id: int, *, actor: str) -> None:
    session.add(HouseholdMerge(merged_id=merged_id, into_id=into_id, actor=actor))


def merged_away(session: Session, household_id: int) -> Merged | None:
    """Where a merged id went (the survivor at the end of any chain of merges), or None."""
    row = session.get(HouseholdMerge, household_id)
    if row is None:
        return None
    into, seen = row.into_id, {household_id}
    while into not in seen:
        seen.add(into)
        nxt = session.get(HouseholdMerge, into)
        if nxt is None:
            break
        into = nxt.into_id
    return Merged(household_id, into, row.at)


def survivor(session: Session, household_id: int) -> int:
    """The household whose evidence `household_id` is part of: itself, unless merged away."""
    merged = merged_away(session, household_id)
    return household_id if merged is None else merged.into


def evidence_ids(session: Session, household_ids: Iterable[int]) -> dict[int, int]:
    """Every id whose calls count for these households, each mapped to the household it counts for.

    A household's own id, and every id merged into it, directly or through
    a chain of merges. One read of the pointers (merges are few).
    """
    into: dict[int, list[int]] = {}
    for merged_id, into_id in session.execute(select(HouseholdMerge.merged_id, HouseholdMerge.into_id)):
        into.setdefault(into_id, []).append(merged_id)
    found: dict[int, int] = {}
    for household in household_ids:
        stack = [household]
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found[current] = household
            stack.extend(into.get(current, ()))
    return found
