"""Who owns a household, as calls are answered: the rules from the field, in one place.

- The first answered call of a number in no household creates a household
  with that number, owned by the agent who answered.
- An ownerless household (a lapsed one, say) is owned by the next agent who
  answers it.
- A non-owner who answers is recorded as covering for the owner; ownership
  does not move.
- With `ownership_lapse_days` set, an owner without an answered contact for
  that long is cleared when the next call is decided.
Every change writes an audit row in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router import audit, households
from router.models import Agent, Household, PhoneNumber
from router.models import Decision as DecisionRow

log = logging.getLogger(__name__)

# The actor the audit names for changes the router makes on its own.
ROUTER_ACTOR = "router"


def lapse_if_due(session: Session, household_id: int, now: datetime, lapse_days: int) -> bool:
    """Clear the owner of a household nobody answered for `lapse_days`; True if cleared."""
    if lapse_days <= 0:
        return False
    household = session.get(Household, household_id)
    if household is None or household.owner_id is None:
        return False
    last = household.last_contact_at or household.created_at
    if last > now - timedelta(days=lapse_days):
        return False
    households.transfer(
        session,
        household_id,
        None,
        reason=f"no answered contact for {lapse_days} days (last {last.date().isoformat()})",
        actor=ROUTER_ACTOR,
        action="lapse",
    )
    log.info("ownership of household %s lapsed", household_id)
    return True


@dataclass(frozen=True, slots=True)
class Answered:
    covering_for_id: int | None
    covering_for: str | None
    new_household_id: int | None


def on_answer(session: Session, row: DecisionRow, agent: Agent, answered_at: datetime) -> Answered:
    """Apply ownership for an answered call and note who answered it on the decision row."""
    row.answered_by_id = agent.id
    household_id = row.household_id
    if household_id is None and row.number.startswith("+"):
        found = households.lookup(session, row.number)
        if found is None:
            created = _create_household(session, row.number, agent, answered_at)
            if created is not None:
                row.household_id = created
                return Answered(None, None, created)
            found = households.lookup(session, row.number)
        if found is not None:
            household_id = row.household_id = found.household_id
    if household_id is None:
        return Answered(None, None, None)
    household = session.get(Household, household_id)
    if household is None:
        return Answered(None, None, None)
    household.last_contact_at = answered_at
    if household.owner_id is None:
        household.owner_id = agent.id
        audit.record(
            session,
            "owner",
            household=household.id,
            after=agent.login,
            reason="answered a call of a household with no owner",
            actor=ROUTER_ACTOR,
        )
        return Answered(None, None, None)
    if household.owner_id != agent.id:
        owner_login = session.scalar(select(Agent.login).where(Agent.id == household.owner_id))
        return Answered(household.owner_id, owner_login, None)
    return Answered(None, None, None)


def _create_household(session: Session, number: str, agent: Agent, answered_at: datetime) -> int | None:
    """A new household for a first answered call; None if another call linked the number first."""
    try:
        with session.begin_nested():
            household = Household(origin="call", owner_id=agent.id, last_contact_at=answered_at)
            session.add(household)
            session.flush()
            session.add(PhoneNumber(number=number, household_id=household.id, label="mobile"))
            session.flush()
    except IntegrityError:
        return None
    audit.record(
        session,
        "create",
        household=household.id,
        subject=number,
        after=f"owner={agent.login} numbers={number}",
        reason="first answered call",
        actor=ROUTER_ACTOR,
    )
    log.info("household %s created by a first answered call, owner %s", household.id, agent.login)
    return household.id


def count_call(session: Session, agent_id: int, ended_at: datetime) -> None:
    """The fairness inputs of an agent who just finished a call."""
    day: date = ended_at.date()
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id)
        .values(
            last_call_ended_at=ended_at,
            calls_today=case((Agent.calls_day == day, Agent.calls_today + 1), else_=1),
            calls_day=day,
        )
        .execution_options(synchronize_session=False)
    )
