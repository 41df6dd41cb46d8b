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
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from router import audit, households
from router.db import utcnow
from router.models import Agent, Household, PhoneNumber
from router.prepared import Prepared

log = logging.getLogger(__name__)

# The actor the audit names for changes the router makes on its own.
ROUTER_ACTOR = "router"


def lapse_due(connection: Connection, household_id: int, now: datetime, lapse_days: int) -> datetime | None:
    """The household's last answered contact (or creation) if its owner is due to lapse at `now`.

    None when the setting is off, the household has no owner, or it was
    answered recently. Reads only: `callkeeper route` shows the lapse a real
    call would apply without applying it.
    """
    if lapse_days <= 0:
        return None
    row = connection.execute(
        select(Household.owner_id, Household.last_contact_at, Household.created_at).where(
            Household.id == household_id
        )
    ).first()
    if row is None or row.owner_id is None:
        return None
    last: datetime = row.last_contact_at or row.created_at
    return last if last <= now - timedelta(days=lapse_days) else None


def lapse_if_due(connection: Connection, household_id: int, now: datetime, lapse_days: int) -> bool:
    """Clear the owner of a household nobody answered for `lapse_days`; True if cleared."""
    last = lapse_due(connection, household_id, now, lapse_days)
    if last is None:
        return False
    # The lapse is rare and off by default: the admin's ORM path does it, in this transaction.
    with Session(bind=connection) as session:
        households.transfer(
            session,
            household_id,
            None,
            reason=f"no answered contact for {lapse_days} days (last {last.date().isoformat()})",
            actor=ROUTER_ACTOR,
            action="lapse",
        )
        session.flush()
    log.info("ownership of household %s lapsed", household_id)
    return True


@dataclass(frozen=True, slots=True)
class Answered:
    """What an answer did: the household the call belongs to, whom it covered, a new household."""

    household_id: int | None
    covering_for_id: int | None = None
    covering_for: str | None = None
    new_household_id: int | None = None


_TOUCH = Prepared(
    update(Household)
    .where(Household.id == bindparam("household_id"))
    .values(last_contact_at=bindparam("at"))
    .returning(Household.owner_id)
)
_ADOPT = Prepared(
    update(Household)
    .where(Household.id == bindparam("household_id"), Household.owner_id.is_(None))
    .values(owner_id=bindparam("agent_id"))
)
_LOGIN = Prepared(select(Agent.login).where(Agent.id == bindparam("agent_id")))


def on_answer(
    connection: Connection,
    number: str,
    household_id: int | None,
    agent_id: int,
    agent_login: str,
    answered_at: datetime,
) -> Answered:
    """Apply the ownership rules to a call from `number` answered by the agent."""
    if household_id is None and number.startswith("+"):
        # No lookup first: linking the number is the check. If another call or
        # an admin linked it since the decision, the link is refused and the
        # call belongs to that household.
        created = _create_household(connection, number, agent_id, agent_login, answered_at)
        if created is not None:
            return Answered(created, new_household_id=created)
        found = households.lookup_number(connection, number)
        household_id = found.household_id if found is not None else None
    if household_id is None:
        return Answered(None)
    touched = _TOUCH.first(connection, {"household_id": household_id, "at": answered_at})
    if touched is None:
        return Answered(None)
    owner_id = touched[0]
    if owner_id is None:
        _ADOPT.rowcount(connection, {"household_id": household_id, "agent_id": agent_id})
        audit.record(
            connection,
            "owner",
            household=household_id,
            after=agent_login,
            reason="answered a call of a household with no owner",
            actor=ROUTER_ACTOR,
        )
        return Answered(household_id)
    if owner_id != agent_id:
        owner = _LOGIN.scalar(connection, {"agent_id": owner_id})
        return Answered(household_id, owner_id, owner)
    return Answered(household_id)


_NEW_HOUSEHOLD = Prepared(
    insert(Household).returning(Household.id),
    columns=("name", "owner_id", "email", "address", "origin", "created_at", "last_contact_at"),
)
_DROP_HOUSEHOLD = Prepared(delete(Household).where(Household.id == bindparam("household_id")))


# Link a number unless another call linked it first (then nothing is written);
# `ON CONFLICT` is each dialect's own construct, so one statement per backend.
_LINK_NUMBER: dict[str, Prepared] = {
    name: Prepared(
        dialect_insert(PhoneNumber)
        .on_conflict_do_nothing(index_elements=[PhoneNumber.number])
        .returning(PhoneNumber.id),
        columns=("number", "household_id", "label"),
    )
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


def _create_household(
    connection: Connection, number: str, agent_id: int, agent_login: str, answered_at: datetime
) -> int | None:
    """A new household for a first answered call; None if another call linked the number first.

    Plain inserts rather than ORM objects and a savepoint: this runs inside
    the recording of a call, where every millisecond is the next caller's.
    """
    household_id = _NEW_HOUSEHOLD.scalar(
        connection,
        {
            "name": "",
            "owner_id": agent_id,
            "email": "",
            "address": "",
            "origin": "call",
            "created_at": utcnow(),
            "last_contact_at": answered_at,
        },
    )
    linked = _LINK_NUMBER[connection.dialect.name].first(
        connection, {"number": number, "household_id": household_id, "label": "mobile"}
    )
    if linked is None:
        _DROP_HOUSEHOLD.rowcount(connection, {"household_id": household_id})
        return None
    audit.record(
        connection,
        "create",
        household=household_id,
        subject=number,
        after=f"owner={agent_login} numbers={number}",
        reason="first answered call",
        actor=ROUTER_ACTOR,
    )
    log.info("household %s created by a first answered call, owner %s", household_id, agent_login)
    return int(household_id)
