"""The ledger: one row per decided call, one per dial attempt; the evidence behind splits.

Rows are only ever added. The one later touch of a decision row is a first
call's: the household its answer created, so that the call counts for that
household's splits. Who answered a call is its attempt with status ANSWER
(a call has at most one), read from the attempts rather than stored twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Insert,
    Integer,
    Row,
    Select,
    Update,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.directory import merges
from router.errors import Conflict, NotFound
from router.routing import claims
from router.routing.plan import ANSWER, Call, Decision, DialOutcome, Plan, PlannedAttempt, attempt_numbered
from router.storage.models import Agent, Attempt, Office
from router.storage.models import Decision as DecisionRow
from router.storage.prepared import Prepared
from router.storage.views import iso

_CHUNK = 5000


_DECISION_COLUMNS = (
    "call_uid", "at", "number", "line", "household_id", "owner_id", "route", "plan", "then", "decide_ms",
)  # fmt: skip
_INSERT_DECISION_ROW = insert(DecisionRow).values(
    office_id=select(Office.id).where(Office.code == bindparam("office")).scalar_subquery()
)
_INSERT_DECISION = Prepared(_INSERT_DECISION_ROW.returning(DecisionRow.id), columns=_DECISION_COLUMNS)
# PostgreSQL: the row and the claim of the plan's first agent in one statement,
# so a decision is one write (`Router.decide` runs it without a transaction).
_CLAIMED = claims.claiming("claimed")
_INSERT_DECISION_CLAIMING = Prepared(
    _INSERT_DECISION_ROW.add_cte(_CLAIMED).returning(
        DecisionRow.id, select(func.count()).select_from(_CLAIMED).scalar_subquery()
    ),
    columns=_DECISION_COLUMNS,
)
_GET_DECISION = Prepared(
    select(
        DecisionRow.call_uid,
        DecisionRow.number,
        DecisionRow.household_id,
        DecisionRow.plan,
        Office.code,
        Agent.login,
    )
    .outerjoin(Office, Office.id == DecisionRow.office_id)
    .outerjoin(Agent, Agent.id == DecisionRow.owner_id)
    .where(DecisionRow.id == bindparam("id"))
)


def _noting_household(household_id: ColumnElement[int]) -> Update:
    return (
        update(DecisionRow)
        .where(DecisionRow.id == bindparam("decision_id", type_=Integer()))
        .values(household_id=household_id)
    )


_FIRST_CALL_HOUSEHOLD = Prepared(_noting_household(bindparam("household_id", type_=Integer())))
# The attempt's own values; the agent's id and whom they covered for are
# given as expressions: values, or columns of the statements before it.
_ATTEMPT_VALUES = ("decision_id", "seq", "reason", "started_at", "status", "ring_seconds", "talk_seconds")
_AGENT_BY_LOGIN = select(Agent.id).where(Agent.login == bindparam("agent")).scalar_subquery()


def attempt_row(agent_id: ColumnElement[int], covering_for_id: ColumnElement[Any]) -> Select[Any]:
    """The row of an attempt, as a SELECT for `inserting_attempt`; values from `attempt_params`."""
    columns = Attempt.__table__.c
    values = (bindparam(name, type_=columns[name].type) for name in _ATTEMPT_VALUES)
    return select(*values, agent_id, covering_for_id)


def inserting_attempt(row: Select[Any], backend: str = "postgresql") -> Insert:
    """The INSERT of an attempt's `attempt_row`, or its end written over its started row.

    An attempt of dial mode is written twice: `STARTED` before the Dial
    (`write_started`), so that a crash during the call leaves evidence of
    it, and complete after. The second write takes the started row's place
    (ON CONFLICT DO UPDATE, keeping its start time); the database refuses to
    change a row that is complete already (schema 0006's trigger), which
    fails the statement as a duplicate INSERT used to.
    """
    dialect_insert = postgresql_insert if backend == "postgresql" else sqlite_insert
    statement = dialect_insert(Attempt).from_select([*_ATTEMPT_VALUES, "agent_id", "covering_for_id"], row)
    return statement.on_conflict_do_update(
        index_elements=[Attempt.decision_id, Attempt.seq],
        set_={name: statement.excluded[name] for name in _ENDED_VALUES},
    )


# What completing a started attempt writes: how it ended, and whom the agent covered for.
_ENDED_VALUES = ("status", "ring_seconds", "talk_seconds", "covering_for_id")
STARTED = "UNKNOWN"  # an attempt whose end is not (yet) recorded

_INSERT_ATTEMPT = {
    backend: Prepared(
        inserting_attempt(
            attempt_row(_AGENT_BY_LOGIN, bindparam("covering_for_id", type_=Integer())).where(true()), backend
        )
    )
    for backend in ("sqlite", "postgresql")
}


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """What recording an attempt needs from its decision row, and the call's office and owner."""

    id: int
    call_uid: str
    number: str
    household_id: int | None
    attempts: tuple[PlannedAttempt, ...]
    office: str | None
    owner: str | None

    def attempt(self, seq: int) -> PlannedAttempt:
        """The attempt `seq` of this decision, read back from the plan stored with it."""
        planned = attempt_numbered(self.attempts, seq)
        if planned is None:
            raise NotFound(f"decision {self.id} has no attempt {seq}")
        return planned

    @classmethod
    def of(cls, decision: Decision) -> StoredDecision:
        """The row as written for `decision`, without reading it back."""
        return cls(
            decision.id,
            decision.call.uid,
            decision.call.caller.key,
            decision.household_id,
            decision.plan.attempts,
            decision.office or None,
            decision.owner,
        )


@dataclass(frozen=True, slots=True)
class FirstClaim:
    """The agent a decision claims as its row is written, for how long."""

    agent: str
    ttl: timedelta


def write_decision(
    connection: Connection,
    call: Call,
    plan: Plan,
    *,
    office: str | None,
    household_id: int | None,
    owner_id: int | None,
    decide_ms: float,
    claim: FirstClaim | None = None,
) -> tuple[int, bool]:
    """The decision's row, and with `claim`, the claim of that agent; returns (id, claim won).

    On PostgreSQL the two are one statement: a write that commits by itself
    is whole. Elsewhere they run one after the other in the caller's
    transaction.
    """
    params = {
        "office": office,
        "call_uid": call.uid,
        "at": call.at,
        "number": call.caller.key,
        "line": call.line,
        "household_id": household_id,
        "owner_id": owner_id,
        "route": plan.route,
        "plan": [a.as_json() for a in plan.attempts],
        "then": plan.then,
        "decide_ms": round(decide_ms, 3),
    }
    if claim is None:
        return int(_INSERT_DECISION.scalar(connection, params)), False
    if connection.dialect.name == "postgresql":
        claimed = claims.claim_params(claim.agent, call.uid, call.at, claim.ttl)
        row = _INSERT_DECISION_CLAIMING.first(connection, params | claimed)
        assert row is not None  # an INSERT ... RETURNING of one row
        return int(row[0]), row[1] == 1
    won = claims.claim(connection, claim.agent, call.uid, call.at, claim.ttl)
    return int(_INSERT_DECISION.scalar(connection, params)), won


def get_decision(connection: Connection, decision_id: int) -> StoredDecision:
    row = _GET_DECISION.first(connection, {"id": decision_id})
    if row is None:
        raise NotFound(f"no decision {decision_id}")
    attempts = tuple(PlannedAttempt.from_json(data) for data in row[3])
    return StoredDecision(decision_id, row[0], row[1], row[2], attempts, row[4], row[5])


def note_household(connection: Connection, decision_id: int, household_id: int) -> None:
    """The household a call's answer put it in (a first call's new one) on its decision row."""
    _FIRST_CALL_HOUSEHOLD.rowcount(connection, {"decision_id": decision_id, "household_id": household_id})


def noting_household(name: str, created: CTE) -> CTE:
    """`note_household` as a common table expression: the household `created` returns."""
    return _noting_household(select(created.c.id).scalar_subquery()).cte(name)


def attempt_params(row: StoredDecision, planned: PlannedAttempt, outcome: DialOutcome) -> dict[str, Any]:
    """The values of an attempt's row (`attempt_row`), but for the agent's id and covering-for."""
    return {
        "agent": planned.agent,
        "decision_id": row.id,
        "seq": planned.seq,
        "reason": planned.reason,
        "started_at": outcome.started_at,
        "status": outcome.status,
        "ring_seconds": round(outcome.ring_seconds, 3),
        "talk_seconds": round(outcome.talk_seconds, 3),
    }


def write_attempt(
    connection: Connection,
    row: StoredDecision,
    planned: PlannedAttempt,
    outcome: DialOutcome,
    covering_for_id: int | None,
) -> None:
    params = attempt_params(row, planned, outcome) | {"covering_for_id": covering_for_id}
    try:
        _INSERT_ATTEMPT[connection.dialect.name].rowcount(connection, params)
    except IntegrityError:
        raise Conflict(f"attempt {planned.seq} of decision {row.id} is already recorded") from None


def write_started(connection: Connection, row: StoredDecision, planned: PlannedAttempt, at: datetime) -> None:
    """The attempt's row before its Dial: `STARTED`, until `write_attempt` writes how it ended."""
    outcome = DialOutcome(STARTED, at, 0.0, 0.0)
    params = attempt_params(row, planned, outcome) | {"covering_for_id": None}
    try:
        _INSERT_STARTED.rowcount(connection, params)
    except IntegrityError:
        raise Conflict(f"attempt {planned.seq} of decision {row.id} is already recorded") from None


_INSERT_STARTED = Prepared(
    insert(Attempt).from_select(
        [*_ATTEMPT_VALUES, "agent_id", "covering_for_id"],
        attempt_row(_AGENT_BY_LOGIN, bindparam("covering_for_id", type_=Integer())),
    )
)


@dataclass(frozen=True, slots=True)
class AttemptEntry:
    agent: str | None
    status: str
    started_at: datetime
    ring_seconds: float
    talk_seconds: float
    covering_for: str | None
    # Why this agent was in the plan (owner, owner-backup, office-pool, overflow).
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "reason": self.reason,
            "started_at": iso(self.started_at),
            "status": self.status,
            "ring_seconds": self.ring_seconds,
            "talk_seconds": self.talk_seconds,
            "covering_for": self.covering_for,
        }


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    call: str
    at: datetime
    number: str
    line: str
    household: int | None
    owner: str | None
    route: str
    attempts: tuple[AttemptEntry, ...]
    # The line's office as the call was decided, and how long deciding took.
    office: str | None = None
    decide_ms: float = 0.0

    @property
    def answered_by(self) -> str | None:
        """The agent of the call's ANSWER attempt (a call has at most one)."""
        return next((a.agent for a in self.attempts if a.status == ANSWER), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "at": iso(self.at),
            "number": self.number or "anonymous",
            "line": self.line,
            "office": self.office,
            "household": self.household,
            "owner": self.owner,
            "route": self.route,
            "decide_ms": self.decide_ms,
            "answered_by": self.answered_by,
            "attempts": [a.as_json() for a in self.attempts],
        }


def entries(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    household: int | None = None,
    households: Collection[int] | None = None,
) -> list[LedgerEntry]:
    """Decisions in time order with their attempts; attempts are read in bulk, not per call.

    `household` takes that household with every id merged into it;
    `households` is that set already resolved (`merges.evidence_ids`), for a
    reader that passes it to several reads.

    Plain rows, not ORM objects (and not the stored plan): a timeline of a
    thousand calls is read in milliseconds instead of building thousands of
    tracked objects.
    """
    query = select(
        DecisionRow.id,
        DecisionRow.call_uid,
        DecisionRow.at,
        DecisionRow.number,
        DecisionRow.line,
        DecisionRow.household_id,
        DecisionRow.owner_id,
        DecisionRow.route,
        DecisionRow.office_id,
        DecisionRow.decide_ms,
    ).order_by(DecisionRow.at, DecisionRow.id)
    if since is not None:
        query = query.where(DecisionRow.at >= since)
    if until is not None:
        query = query.where(DecisionRow.at < until)
    if household is not None:
        households = merges.evidence_ids(session, [merges.survivor(session, household)])
    if households is not None:
        query = query.where(DecisionRow.household_id.in_(list(households)))
    rows = session.execute(query).all()
    logins: dict[int, str] = {i: login for i, login in session.execute(select(Agent.id, Agent.login))}
    codes: dict[int, str] = {i: code for i, code in session.execute(select(Office.id, Office.code))}
    by_decision: dict[int, list[AttemptEntry]] = defaultdict(list)
    for decision_id, agent_id, status, started_at, ring, talk, covering_id, reason in _attempts_of(
        session, [r.id for r in rows]
    ):
        by_decision[decision_id].append(
            AttemptEntry(
                agent=logins.get(agent_id) if agent_id else None,
                status=status,
                started_at=started_at,
                ring_seconds=ring,
                talk_seconds=talk,
                covering_for=logins.get(covering_id) if covering_id else None,
                reason=reason,
            )
        )
    return [
        LedgerEntry(
            call=r.call_uid,
            at=r.at,
            number=r.number,
            line=r.line,
            household=r.household_id,
            owner=logins.get(r.owner_id) if r.owner_id else None,
            route=r.route,
            attempts=tuple(by_decision.get(r.id, ())),
            office=codes.get(r.office_id) if r.office_id else None,
            decide_ms=r.decide_ms,
        )
        for r in rows
    ]


# An attempt as `entries` reads it: decision, agent, status, start, ring, talk, covering for, reason.
_AttemptRow = Row[int, int | None, str, datetime, float, float, int | None, str]


def _attempts_of(session: Session, decision_ids: Sequence[int]) -> Iterator[_AttemptRow]:
    for start in range(0, len(decision_ids), _CHUNK):
        chunk = decision_ids[start : start + _CHUNK]
        yield from session.execute(
            select(
                Attempt.decision_id,
                Attempt.agent_id,
                Attempt.status,
                Attempt.started_at,
                Attempt.ring_seconds,
                Attempt.talk_seconds,
                Attempt.covering_for_id,
                Attempt.reason,
            )
            .where(Attempt.decision_id.in_(chunk))
            .order_by(Attempt.seq)
        )
