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

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def logins(household: Household) -> tuple[str, ...]:
    """The co-owners' logins, in order (the owner not among them)."""
    return tuple(row.agent.login for row in household.co_owners)


def co_owned(session: Session, household_ids: Sequence[int]) -> dict[int, tuple[str, tuple[str, ...]]]:
    """For each of these households with co-owners: its mode and its owners, the owner first."""
    rows = session.execute(
        select(Household.id, HouseholdOwner.mode, Agent.login, HouseholdOwner.position)
        .join(HouseholdOwner, HouseholdOwner.household_id == Household.id)
        .join(Agent, Agent.id == HouseholdOwner.agent_id)
        .where(Household.id.in_(household_ids))
        .order_by(Household.id, HouseholdOwner.position)
    ).all()
    owners = dict(
        session.execute(
            select(Household.id, Agent.login)
            .join(Agent, Agent.id == Household.owner_id)
            .where(Household.id.in_({r[0] for r in rows}))
        ).tuples()
    )
    found: dict[int, tuple[str, tuple[str, ...]]] = {}
    for household_id, mode, login, _ in rows:
        _, before = found.get(household_id, (mode, tuple(filter(None, [owners.get(household_id)]))))
        found[household_id] = (mode, (*before, login))
    return found
