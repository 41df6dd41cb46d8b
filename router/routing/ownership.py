"""Who owns a household, as calls are answered: the rules from the field, in one place.

- The first answered call of a number in no household creates a household
  with that number, owned by the agent who answered.
- An ownerless household (a lapsed one, say) is owned by the next agent who
  answers it, unless it is in an open dispute (`router.directory.disputes`).
- A non-owner who answers is recorded as covering for the owner; ownership
  does not move. A co-owner who answers is an owner, covering for nobody.
- With `ownership_lapse_days` set, an owner without an answered contact for
  that long is cleared when the next call is decided.
Every change writes an audit row in the same transaction (on PostgreSQL, for
a first call, often in the same statement: `router.routing.recording`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Insert,
    Integer,
    and_,
    bindparam,
    case,
    delete,
    exists,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from router.directory import audit, disputes, household_reads, households
from router.storage.db import utcnow
from router.storage.models import Agent, Household, HouseholdOwner, PhoneNumber
from router.storage.prepared import Prepared

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
            Household.id == household_id, ~disputes.open_dispute_of(Household.id)
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


# A non-owner who answers covers for the owner: the rule, once, for the
# record's statements on both backends (`on_answer` and `touching`).
_ANSWERING_AGENT = select(Agent.id).where(Agent.login == bindparam("agent")).scalar_subquery()
# A co-owner answering is an owner answering, not covering.
_COVERING_FOR = case(
    (
        and_(
            Household.owner_id != _ANSWERING_AGENT,
            ~exists().where(
                HouseholdOwner.household_id == Household.id, HouseholdOwner.agent_id == _ANSWERING_AGENT
            ),
        ),
        Household.owner_id,
    )
)
_TOUCHING = (
    update(Household)
    .where(Household.id == bindparam("household_id"))
    .values(last_contact_at=bindparam("at"))
    .returning(Household.owner_id, _COVERING_FOR.label("covering_for_id"))
)
_TOUCH = Prepared(_TOUCHING)
_ADOPT = Prepared(
    update(Household)
    .where(
        Household.id == bindparam("household_id"),
        Household.owner_id.is_(None),
        ~disputes.open_dispute_of(Household.id),
    )
    .values(owner_id=bindparam("agent_id"))
)
_LOGIN = Prepared(select(Agent.login).where(Agent.id == bindparam("agent_id")))


def is_first_call(number: str, household_id: int | None) -> bool:
    """Whether answering this call creates a household: a number in none, and a real one."""
    return household_id is None and number.startswith("+")


def answer_params(household_id: int | None, agent_login: str, answered_at: datetime) -> dict[str, Any]:
    """The values of the statements of an answer (`on_answer`'s, and `touching`'s and `creating`'s)."""
    return {"household_id": household_id, "agent": agent_login, "at": answered_at, "created_at": utcnow()}


def on_answer(
    connection: Connection,
    number: str,
    household_id: int | None,
    agent_id: int,
    agent_login: str,
    answered_at: datetime,
) -> Answered:
    """Apply the ownership rules to a call from `number` answered by the agent."""
    params = answer_params(household_id, agent_login, answered_at)
    if is_first_call(number, household_id):
        # No lookup first: linking the number is the check. If another call or
        # an admin linked it since the decision, the link is refused and the
        # call belongs to that household.
        created = _create_household(connection, number, agent_id, agent_login, params)
        if created is not None:
            return Answered(created, new_household_id=created)
        found = household_reads.lookup_number(connection, number)
        household_id = found.household_id if found is not None else None
    if household_id is None:
        return Answered(None)
    touched = _TOUCH.first(connection, params | {"household_id": household_id})
    if touched is None:
        return Answered(None)
    owner_id, covering_for_id = touched
    if owner_id is None:
        if not _ADOPT.rowcount(connection, {"household_id": household_id, "agent_id": agent_id}):
            return Answered(household_id)  # in dispute: no adoption by a first answered call
        audit.record(
            connection,
            "owner",
            household=household_id,
            after=agent_login,
            reason="answered a call of a household with no owner",
            actor=ROUTER_ACTOR,
        )
        return Answered(household_id)
    if covering_for_id is not None:
        owner = _LOGIN.scalar(connection, {"agent_id": covering_for_id})
        return Answered(household_id, covering_for_id, owner)
    return Answered(household_id)


def touching(name: str) -> CTE:
    """`on_answer`'s touch of a household with an owner, as a common table expression.

    Returns the owner and whom the answering agent covers for (`answer_params`'s
    values). A household with no owner is not touched (no row): the answer
    adopts it, which only `on_answer` does. Nor is it touched for an agent
    who does not exist, whose answer is no answer.
    """
    return _TOUCHING.where(Household.owner_id.is_not(None), _ANSWERING_AGENT.is_not(None)).cte(name)


# A first call's household: its fields, its number's label, its audit row.
_FIRST_CALL_HOUSEHOLD = {"name": "", "email": "", "address": "", "origin": "call"}
_FIRST_CALL_LABEL = "mobile"


def _creation_audit(number: str, agent_login: str) -> dict[str, str]:
    return {
        "subject": number,
        "after": f"owner={agent_login} numbers={number}",
        "reason": "first answered call",
        "actor": ROUTER_ACTOR,
    }


def _household_row(owner_id: ColumnElement[int]) -> Insert:
    columns = Household.__table__.c
    fixed = (literal(value, columns[field].type) for field, value in _FIRST_CALL_HOUSEHOLD.items())
    created_at = bindparam("created_at", type_=columns["created_at"].type)
    answered_at = bindparam("at", type_=columns["last_contact_at"].type)
    return (
        insert(Household)
        .from_select(
            [*_FIRST_CALL_HOUSEHOLD, "owner_id", "created_at", "last_contact_at"],
            select(*fixed, owner_id, created_at, answered_at),
        )
        .returning(Household.id)
    )


_NEW_HOUSEHOLD = Prepared(_household_row(bindparam("agent_id", type_=Integer())))
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
    connection: Connection, number: str, agent_id: int, agent_login: str, params: dict[str, Any]
) -> int | None:
    """A new household for a first answered call; None if another call linked the number first.

    Plain inserts rather than ORM objects and a savepoint: this runs inside
    the recording of a call, where every millisecond is the next caller's.
    """
    household_id = _NEW_HOUSEHOLD.scalar(connection, params | {"agent_id": agent_id})
    linked = _LINK_NUMBER[connection.dialect.name].first(
        connection, {"number": number, "household_id": household_id, "label": _FIRST_CALL_LABEL}
    )
    if linked is None:
        _DROP_HOUSEHOLD.rowcount(connection, {"household_id": household_id})
        return None
    audit.record(connection, "create", household=household_id, **_creation_audit(number, agent_login))
    log.info("household %s created by a first answered call, owner %s", household_id, agent_login)
    return int(household_id)


def creating(finished: CTE) -> tuple[CTE, ...]:
    """A first call's household, owned by the agent `finished` returns, as common table expressions.

    The household (the first, which returns its id), its number and its
    audit row: `_create_household`'s writes and values, with
    `creating_params`'s values. The number is linked with a plain INSERT: if
    another call linked it first, the statement fails whole, and the
    transaction path (`on_answer`) joins the call to that household instead.
    """
    created = _household_row(finished.c.id).cte("created")
    number = bindparam("number", type_=PhoneNumber.__table__.c["number"].type)
    label = literal(_FIRST_CALL_LABEL, PhoneNumber.__table__.c["label"].type)
    linked = (
        insert(PhoneNumber)
        .from_select(["number", "household_id", "label"], select(number, created.c.id, label))
        .cte("linked")
    )
    return created, linked, audit.recording("audited", created.c.id)


def creating_params(number: str, agent_login: str) -> dict[str, Any]:
    """The values of `creating`'s statements, beside `answer_params`'s."""
    return {"number": number} | audit.recording_params("create", **_creation_audit(number, agent_login))
