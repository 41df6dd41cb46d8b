"""Co-owners: a household's owners besides the first, rung in order or together.

The first owner stays `Household.owner_id`, so everything that asks "whose
family is it" keeps its one answer; the others are `HouseholdOwner` rows
with their positions, and the household's `owners_mode` says how a call
rings them: `ordered` one after another as owner tiers, `equal` together in
one Dial (and a booking's split is then equal among them by default),
kept on the co-owners' rows.

Writes only the rows here; the checks and the audit are the callers'
(`households.set_owners`, `disputes.resolve`), which know why they change.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from router.errors import InvalidInput
from router.storage.models import DISABLED, OWNERS_MODES, Agent, Household, HouseholdOwner

ORDERED, EQUAL = OWNERS_MODES


def check_mode(mode: str) -> str:
    if mode not in OWNERS_MODES:
        raise InvalidInput(f"mode must be one of {', '.join(OWNERS_MODES)}, not {mode!r}")
    return mode


def check_owner(agent: Agent) -> Agent:
    if agent.state == DISABLED:
        raise InvalidInput(f"agent {agent.login!r} is disabled and cannot own a family")
    return agent


def replace_owners(session: Session, household: Household, owners: Sequence[Agent], mode: str) -> None:
    """The household's owners from now on: the first is its owner, the rest co-owners in order.

    One owner (or none) clears the co-owners; the mode is kept as given.
    """
    check_mode(mode)
    household.owner = owners[0] if owners else None
    household.co_owners.clear()
    session.flush()
    household.co_owners.extend(
        HouseholdOwner(agent=agent, position=n, mode=mode) for n, agent in enumerate(owners[1:], start=1)
    )


def drop(session: Session, household: Household, agent: Agent) -> None:
    """Take `agent` out of the co-owners (they became the owner, say); the others keep their order."""
    kept = [row.agent for row in household.co_owners if row.agent_id != agent.id]
    if len(kept) != len(household.co_owners):
        mode = household.owners_mode
        household.co_owners.clear()
        session.flush()
        household.co_owners.extend(
            HouseholdOwner(agent=a, position=n, mode=mode) for n, a in enumerate(kept, start=1)
        )


@dataclass(frozen=True, slots=True)
class Owners:
    """A household's owner, its co-owners in order, and how they ring."""

    owner: str | None
    co_owners: tuple[str, ...] = ()
    mode: str = ORDERED

    @property
    def equal(self) -> tuple[str, ...]:
        """Everyone who owns the family equally (the owner first), or () if they are ordered or alone."""
        if self.mode != EQUAL or not self.co_owners:
            return ()
        return (*([self.owner] if self.owner else []), *self.co_owners)


_co = aliased(Agent)


def owners_of(session: Session, household_ids: Collection[int]) -> dict[int, Owners]:
    """The owners of these households (those with any), in one statement."""
    rows = session.execute(
        select(Household.id, Agent.login, HouseholdOwner.mode, _co.login)
        .outerjoin(Agent, Agent.id == Household.owner_id)
        .outerjoin(HouseholdOwner, HouseholdOwner.household_id == Household.id)
        .outerjoin(_co, _co.id == HouseholdOwner.agent_id)
        .where(Household.id.in_(household_ids))
        .order_by(Household.id, HouseholdOwner.position)
    ).all()
    found: dict[int, Owners] = {}
    for household_id, owner, mode, co_owner in rows:
        if owner is None and co_owner is None:
            continue
        known = found.get(household_id, Owners(owner, (), mode or ORDERED))
        found[household_id] = Owners(owner, (*known.co_owners, *([co_owner] if co_owner else [])), known.mode)
    return found
