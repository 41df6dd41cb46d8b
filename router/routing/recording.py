"""On PostgreSQL, the record of an attempt as one statement that commits by itself.

`Router.record` writes an attempt's end in a transaction, one statement
after another: the agent's claim ends (`router.routing.claims`), an answer applies
the ownership rules (`router.routing.ownership`), the attempt's row is added
(`router.routing.ledger`). PostgreSQL runs writes in WITH clauses as part of the
statement around them, so here the same statements, with the same values,
are joined into one, each taking what it needs from the one before (the
agent's id, whom they covered for, the new household's id) instead of from
Python: one round trip instead of four to eight, and no BEGIN or COMMIT.

Joined are the cases in which no write depends on a choice made from what an
earlier one returned:

- the end of an attempt with no household to touch (not answered, or
  answered from no number): the claim ends, the attempt is written;
- an answer in a household with an owner, who is touched (and covered for,
  if someone else answered);
- the first answer of a new number: its household is created, owned by
  the agent, with the number linked, the creation audited and the decision
  row pointed at it.

Anything else writes nothing here, and `record_at_once` returns None so the
transaction path does all of it:

- a household with no owner (the answer adopts it): no household row is
  touched, so no claim ends and no attempt is written;
- a number another call or an admin linked since the decision: the link
  fails, and the whole statement with it;
- an unknown agent (no claim ends), an attempt recorded twice (its INSERT
  fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import CTE, Connection, exists, null, select, true
from sqlalchemy.exc import IntegrityError

from router.routing import claims, ledger, ownership
from router.routing.plan import DialOutcome, PlannedAttempt
from router.storage.models import Agent
from router.storage.prepared import Prepared

# What the answer does to a household, which decides the statement's shape.
_NO_HOUSEHOLD, _HOUSEHOLD, _FIRST_CALL = "no household", "household", "first call"


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the one statement did beyond the attempt: whom the agent covered for, a new household."""

    covering_for: str | None
    new_household_id: int | None


def record_at_once(
    connection: Connection,
    row: ledger.StoredDecision,
    planned: PlannedAttempt,
    outcome: DialOutcome,
    *,
    free_the_rest: bool,
) -> Recorded | None:
    """Write the attempt's end in one statement; None if this case is the transaction path's.

    On None nothing was written.
    """
    answered_at = outcome.answered_at
    if answered_at is None:
        shape = _NO_HOUSEHOLD
    elif row.household_id is not None:
        shape = _HOUSEHOLD
    elif ownership.is_first_call(row.number, row.household_id):
        shape = _FIRST_CALL
    else:
        shape = _NO_HOUSEHOLD
    params = claims.finish_params(planned.agent, row.call_uid, outcome.ended_at) | ledger.attempt_params(
        row, planned, outcome
    )
    if answered_at is not None:
        params |= ownership.answer_params(row.household_id, planned.agent, answered_at)
    if shape == _FIRST_CALL:
        params |= ownership.creating_params(row.number, planned.agent)
    try:
        returned = _statement(shape, answered_at is not None, free_the_rest).first(connection, params)
    except IntegrityError:
        return None
    if returned is None:
        return None
    return Recorded(covering_for=returned[0], new_household_id=returned[1])


_STATEMENTS: dict[tuple[str, bool, bool], Prepared] = {}


def _statement(shape: str, answered: bool, free_the_rest: bool) -> Prepared:
    key = (shape, answered, free_the_rest)
    prepared = _STATEMENTS.get(key)
    if prepared is None:
        prepared = _STATEMENTS[key] = Prepared(_build(shape, answered, free_the_rest))
    return prepared


def _build(shape: str, answered: bool, free_the_rest: bool) -> Any:
    """The INSERT of the attempt, with the other writes in its WITH clause.

    It returns one row, whom the agent covered for and the new household,
    only if the attempt was written.
    """
    ctes: list[CTE] = []
    covering_for: Any = null()
    new_household: Any = null()
    if shape == _HOUSEHOLD:
        touched = ownership.touching("touched")
        finished = claims.finishing("finished", answered=True, only_if=exists(select(touched.c.owner_id)))
        attempt = ledger.attempt_row(finished.c.id, touched.c.covering_for_id).select_from(
            finished.join(touched, true())
        )
        covering_for = (
            select(Agent.login)
            .where(Agent.id == select(touched.c.covering_for_id).scalar_subquery())
            .scalar_subquery()
        )
        ctes += [touched, finished]
    elif shape == _FIRST_CALL:
        finished = claims.finishing("finished", answered=True)
        created, *linked_and_audited = ownership.creating(finished)
        attempt = ledger.attempt_row(finished.c.id, null())
        new_household = select(created.c.id).scalar_subquery()
        ctes += [finished, created, *linked_and_audited, ledger.noting_household("noted", created)]
    else:
        finished = claims.finishing("finished", answered=answered)
        attempt = ledger.attempt_row(finished.c.id, null())
        ctes.append(finished)
    if free_the_rest:
        ctes.append(claims.releasing_others("others", finished))
    statement = ledger.inserting_attempt(attempt)
    for cte in ctes:
        statement = statement.add_cte(cte)
    return statement.returning(covering_for, new_household)
