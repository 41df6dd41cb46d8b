"""Read what one decision needs from the database, in a handful of indexed queries.

A call costs: the caller's household and owner; the offices (with which one
owns the line); then, in one statement, the owner and the owner's backup,
flagged if excluded or already rung for this call, and the free agents the
plan could reach, already ranked by their office's strategy, without the
excluded and already rung. Statements are built once and run on the call's
connection (the ORM layer would cost more than the queries), and rows become
plain values (`router.plan`).

Ranking in SQL is only a pre-selection: `router.decision.decide` ranks again
and has the last word, so it needs no more than the first `MAX_ATTEMPTS`
agents it could possibly plan.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql import CompoundSelect, Select

from router import households
from router.db import UTCDateTime
from router.decision import MAX_ATTEMPTS
from router.directory import line_key
from router.errors import NotFound
from router.models import Agent, Attempt, Decision, Exclusion, Line, Office
from router.plan import AgentState, Call, OfficeSettings, Snapshot
from router.prepared import Prepared

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_backup = aliased(Agent)
_BACKUP_LOGIN = _backup.login

_OFFICES = Prepared(
    select(
        Office.code,
        Office.strategy,
        Office.owner_policy,
        Office.owner_wait_seconds,
        Office.attempt_timeout_seconds,
        Office.wrapup_seconds,
        exists().where(Line.office_id == Office.id, Line.number == bindparam("line")).label("has_line"),
    ).order_by(Office.code)
)

_COLUMNS = (
    Agent.login,
    Office.code,
    Agent.dial,
    Agent.state,
    Agent.state_changed_at,
    _BACKUP_LOGIN,
    Agent.claimed_by,
    Agent.claim_expires_at,
    Agent.last_call_ended_at,
    Agent.last_offered_at,
    Agent.calls_day,
    Agent.calls_today,
)
_BACKUP_COLUMN = next(n for n, column in enumerate(_COLUMNS) if column is _BACKUP_LOGIN)

# The household's never-route agents, and the agents already rung for this
# call. Not correlated: the call's few attempts are found once by call id, not
# once per agent through each agent's long history (thousands of attempts).
_EXCLUDED = select(Exclusion.agent_id).where(Exclusion.household_id == bindparam("household_id"))
_TRIED = (
    select(Attempt.agent_id)
    .join(Decision, Decision.id == Attempt.decision_id)
    .where(Decision.call_uid == bindparam("uid"), Attempt.agent_id.is_not(None))
)


def _agent_rows(*extra: Any, backup: bool = True) -> Select[*tuple[Any, ...]]:
    """Agents as `AgentState` wants them (with office and backup), plus `extra` columns.

    Only the owner's backup matters to a plan: without `backup` the backup
    column is NULL and the self-join is left out (a third of the pool's cost
    on PostgreSQL).
    """
    if backup:
        return (
            select(*_COLUMNS, *extra)
            .join(Office, Office.id == Agent.office_id)
            .outerjoin(_backup, _backup.id == Agent.backup_id)
        )
    columns = tuple(cast(null(), String()) if c is _BACKUP_LOGIN else c for c in _COLUMNS)
    return select(*columns, *extra).join(Office, Office.id == Agent.office_id)


# The owner and the owner's backup, with whether each is excluded from the
# household or was already rung for this call (pool rows are filtered in SQL).
_OWNER_AND_BACKUP = _agent_rows(
    Agent.id.in_(_EXCLUDED).label("excluded"), Agent.id.in_(_TRIED).label("tried")
).where(
    or_(
        Agent.id == bindparam("owner_id"),
        Agent.id == select(Agent.backup_id).where(Agent.id == bindparam("owner_id")).scalar_subquery(),
    )
)


def _rank_key() -> tuple[Any, ...]:
    """The strategies' orders as SQL, mirroring `router.decision._by_strategy`."""
    epoch = literal(_EPOCH, UTCDateTime())
    today_calls = case((Agent.calls_day == bindparam("today"), Agent.calls_today), else_=0)
    idle = func.coalesce(Agent.last_call_ended_at, Agent.state_changed_at)
    return (
        case((Office.strategy == "fewest-calls", today_calls), else_=0),
        case((Office.strategy == "round-robin", func.coalesce(Agent.last_offered_at, epoch)), else_=epoch),
        case((Office.strategy == "random", func.random()), else_=0),
        case((or_(Office.strategy == "longest-idle", Office.strategy == "fewest-calls"), idle), else_=epoch),
        Agent.login,
    )


def _pool(wrapup_filter: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """The free agents, not excluded and not yet tried, that the plan could reach.

    One ordering does it all: offices in the order decide visits them (the
    line's first, then by code), each office's agents by its strategy; only
    the first `MAX_ATTEMPTS` (plus two: the owner and backup, whom decide may
    take out of the pool) are read. ORDER BY with LIMIT, not a window
    function: SQLite then keeps only the top rows instead of sorting all.
    """
    office_first = case((Office.code == bindparam("office"), 0), else_=1)
    return (
        _agent_rows(backup=False)
        .where(
            Agent.state == "available",
            or_(Agent.claimed_by.is_(None), Agent.claim_expires_at <= bindparam("now")),
            Agent.id.not_in(_EXCLUDED),
            Agent.id.not_in(_TRIED),
            not_(wrapup_filter),
        )
        .order_by(office_first, Office.code, *_rank_key())
        .limit(MAX_ATTEMPTS + 2)
    )


def _owner_then(pool: Select[*tuple[Any, ...]]) -> CompoundSelect[*tuple[Any, ...]]:
    """The owner and backup rows, then the pool's, in one statement: one round trip less.

    Pool rows carry no flags (the pool already leaves out the excluded and
    the tried) and no backup; an owner found in both keeps its own row's.
    """
    ranked = pool.subquery()
    return union_all(_OWNER_AND_BACKUP, select(*ranked.c, false().label("excluded"), false().label("tried")))


def _resting(offices: int) -> ColumnElement[bool]:
    """Agents resting after a call in any of `offices` offices with a wrap-up time.

    The offices and their cut-offs are parameters, so the statement depends
    only on how many offices have one (most agencies: none).
    """
    if not offices:
        return false()
    return or_(
        *(
            and_(
                Office.code == bindparam(f"wrapup_office_{n}"),
                # Without this an agent who never had a call (NULL) would count as resting.
                Agent.last_call_ended_at.is_not(None),
                Agent.last_call_ended_at > bindparam(f"wrapup_since_{n}", type_=UTCDateTime()),
            )
            for n in range(offices)
        )
    )


@functools.cache
def _agents_query(owner: bool, offices_in_wrapup: int) -> Prepared:
    """The pool (after the owner and backup when there is an owner), built once per shape."""
    pool = _pool(_resting(offices_in_wrapup))
    return Prepared(_owner_then(pool) if owner else pool)


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose call it is: the household and its owner, before any lapse is applied."""

    household_id: int | None
    owner_id: int | None
    owner: str | None


def find_subject(connection: Connection, call: Call) -> Subject:
    if call.caller.is_anonymous:
        return Subject(None, None, None)
    found = households.lookup_number(connection, call.caller.key)
    if found is None:
        return Subject(None, None, None)
    return Subject(found.household_id, found.owner_id, found.owner_login)


@dataclass(frozen=True, slots=True)
class Offices:
    """Every office, and the code of the one owning the line asked about (None if none)."""

    all: tuple[OfficeSettings, ...]
    line_office: str | None


def load_offices(connection: Connection, line: str, region: str) -> Offices:
    """The offices, and which one `line` (an inbound number or an office code) belongs to."""
    text = line.strip()
    key = line_key(text, region) if text else ""
    rows = _OFFICES.rows(connection, {"line": key})
    offices = tuple(OfficeSettings(*row[:6]) for row in rows)
    owner = next((row[0] for row in rows if row[6]), None)
    if owner is None and text and any(o.code == text for o in offices):
        owner = text
    return Offices(offices, owner)


def office_or_default(offices: Offices, default: str) -> str | None:
    """The live router's office: the line's, else the `default_office` setting, else the first."""
    if offices.line_office is not None:
        return offices.line_office
    if default and any(o.code == default for o in offices.all):
        return default
    return offices.all[0].code if offices.all else None


def require_office(offices: Offices, line: str) -> str:
    if offices.line_office is None:
        raise NotFound(f"no office has line {line!r}")
    return offices.line_office


def load_snapshot(
    connection: Connection,
    call: Call,
    subject: Subject,
    office: str | None,
    offices: tuple[OfficeSettings, ...],
) -> Snapshot:
    params: dict[str, Any] = {
        "household_id": subject.household_id,
        "uid": call.uid,
        "now": call.at,
        "today": call.at.date(),
        "owner_id": subject.owner_id,
        "office": office,
    }
    agents: dict[str, AgentState] = {}
    excluded: set[str] = set()
    tried: set[str] = set()
    resting = [o for o in offices if o.wrapup_seconds]
    for n, office_resting in enumerate(resting):
        params[f"wrapup_office_{n}"] = office_resting.code
        params[f"wrapup_since_{n}"] = call.at - timedelta(seconds=office_resting.wrapup_seconds)
    query = _agents_query(subject.owner_id is not None, len(resting))
    width = len(_COLUMNS)
    for row in query.rows(connection, params):
        if row[0] not in agents or row[_BACKUP_COLUMN] is not None:
            agents[row[0]] = AgentState(*row[:width])
        if len(row) > width:
            if row[width]:
                excluded.add(row[0])
            if row[width + 1]:
                tried.add(row[0])
    return Snapshot(
        office=office,
        offices=offices,
        agents=tuple(agents.values()),
        household_id=subject.household_id,
        owner=subject.owner,
        excluded=frozenset(excluded),
        tried=frozenset(tried),
    )
