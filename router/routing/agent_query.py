"""The agents statement of a decision: the owner and backup, then the free pool, ranked by strategy.

Built once per shape of call (`Shape`) and kept as a prepared statement. Ranking
in SQL is only a pre-selection: `router.routing.decision.decide` ranks again and
has the last word, so the statement returns no more than the first
`MAX_ATTEMPTS` agents it could possibly plan (plus two).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    cast,
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

from router.routing.decision import MAX_ATTEMPTS
from router.storage.db import UTCDateTime
from router.storage.models import Agent, Attempt, Decision, Exclusion, Office
from router.storage.prepared import Prepared

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_backup = aliased(Agent)
_BACKUP_LOGIN = _backup.login

COLUMNS = (
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
BACKUP_COLUMN = next(n for n, column in enumerate(COLUMNS) if column is _BACKUP_LOGIN)

# The household's never-route agents, and the agents already rung for this
# call. Not correlated: the call's few attempts are found once by call id, not
# once per agent through each agent's long history (thousands of attempts).
_EXCLUDED = select(Exclusion.agent_id).where(Exclusion.household_id == bindparam("household_id"))
_TRIED = (
    select(Attempt.agent_id)
    .join(Decision, Decision.id == Attempt.decision_id)
    .where(Decision.call_uid == bindparam("uid"), Attempt.agent_id.is_not(None))
)


def _columns(*, code: Any = Office.code, backup: bool = True) -> tuple[Any, ...]:
    """The columns `AgentState` wants: `code` gives the office's, and without `backup` it is NULL."""
    no_backup = cast(null(), String())
    return tuple(
        code if c is Office.code else no_backup if c is _BACKUP_LOGIN and not backup else c for c in COLUMNS
    )


def _agent_rows(*extra: Any, backup: bool = True) -> Select[*tuple[Any, ...]]:
    """Agents as `AgentState` wants them (with office and backup), plus `extra` columns.

    Only the owner's backup matters to a plan: without `backup` the backup
    column is NULL and the self-join is left out (a third of the pool's cost
    on PostgreSQL).
    """
    rows = select(*_columns(backup=backup), *extra).join(Office, Office.id == Agent.office_id)
    return rows.outerjoin(_backup, _backup.id == Agent.backup_id) if backup else rows


def _owner_and_backup(excluded: bool, tried: bool) -> Select[*tuple[Any, ...]]:
    """The owner and the owner's backup, with whether each is excluded from the
    household or was already rung for this call (pool rows are filtered in SQL);
    a lookup the call's shape rules out is a constant false."""
    return _agent_rows(
        (Agent.id.in_(_EXCLUDED) if excluded else false()).label("excluded"),
        (Agent.id.in_(_TRIED) if tried else false()).label("tried"),
    ).where(
        or_(
            Agent.id == bindparam("owner_id"),
            Agent.id == select(Agent.backup_id).where(Agent.id == bindparam("owner_id")).scalar_subquery(),
        )
    )


def _rank_key(strategies: frozenset[str]) -> tuple[Any, ...]:
    """The strategies' orders as SQL, mirroring `router.routing.decision._by_strategy`.

    Only the strategies some office uses get a key: each one the offices do
    not use would be a CASE computed for every agent and sorted on for
    nothing (most agencies use longest-idle alone, the default).
    """
    epoch = literal(_EPOCH, UTCDateTime())
    keys: list[Any] = []
    if "fewest-calls" in strategies:
        today_calls = case((Agent.calls_day == bindparam("today"), Agent.calls_today), else_=0)
        keys.append(_only_in(strategies, "fewest-calls", today_calls, 0))
    if "round-robin" in strategies:
        keys.append(_only_in(strategies, "round-robin", func.coalesce(Agent.last_offered_at, epoch), epoch))
    if "random" in strategies:
        keys.append(_only_in(strategies, "random", func.random(), 0))
    idle_ordered = strategies & {"longest-idle", "fewest-calls"}
    if idle_ordered:
        idle: Any = func.coalesce(Agent.last_call_ended_at, Agent.state_changed_at)
        if idle_ordered != strategies:
            by_idle = or_(*(Office.strategy == strategy for strategy in sorted(idle_ordered)))
            idle = case((by_idle, idle), else_=epoch)
        keys.append(idle)
    return (*keys, Agent.login)


def _only_in(strategies: frozenset[str], strategy: str, key: Any, otherwise: Any) -> Any:
    """`key` for the agents of offices using `strategy`; without a CASE when all offices do."""
    return key if strategies == {strategy} else case((Office.strategy == strategy, key), else_=otherwise)


def _pool(shape: Shape) -> Select[*tuple[Any, ...]]:
    """The free agents, not excluded and not yet tried, that the plan could reach.

    Offices in the order decide visits them, the line's first, then the
    others by code, each office's agents by its strategy; only the first
    `MAX_ATTEMPTS` (plus two: the owner and backup, whom decide may take out
    of the pool) are read. ORDER BY with LIMIT, not a window function: the
    database keeps only the top rows instead of sorting all.

    The line's office and the others are two branches of a UNION ALL under
    that LIMIT. Both databases run the branches in order and stop pulling
    rows at the LIMIT, so when the line's office fills the plan (the usual
    case) the other offices' agents are never read.

    The line's office is one office with one strategy: its branch selects
    the office's agents by id (no join, through `ix_agents_office_id`) and
    orders them by that strategy alone, so only that office's agents are
    sorted. (An index in longest-idle order would spare even that sort, but
    every answered call changes that order: schema 0005 says why it went.)
    """
    wanted = MAX_ATTEMPTS + 2
    office = bindparam("office", type_=String())
    line_office = (
        _free(select(*_columns(code=office.label("code"), backup=False)), shape)
        .where(Agent.office_id == select(Office.id).where(Office.code == office).scalar_subquery())
        .where(not_(_resting_in_line_office() if shape.line_wrapup else false()))
        .order_by(*_rank_key(frozenset({shape.line_strategy})))
        .limit(wanted)
        .subquery()
    )
    other_offices = (
        _free(_agent_rows(backup=False), shape)
        .where(Office.code.is_distinct_from(office), not_(_resting(shape.offices_in_wrapup)))
        .order_by(Office.code, *_rank_key(shape.strategies))
        .limit(wanted)
        .subquery()
    )
    both = union_all(select(*line_office.c), select(*other_offices.c)).subquery()
    return select(*both.c).limit(wanted)


def _free(rows: Select[*tuple[Any, ...]], shape: Shape) -> Select[*tuple[Any, ...]]:
    """`rows` narrowed to agents available, unclaimed, and (as `shape` needs) not excluded or tried."""
    free = rows.where(
        Agent.state == "available",
        or_(Agent.claimed_by.is_(None), Agent.claim_expires_at <= bindparam("now")),
    )
    if shape.excluded:
        free = free.where(Agent.id.not_in(_EXCLUDED))
    if shape.tried:
        free = free.where(Agent.id.not_in(_TRIED))
    return free


def _owner_then(
    pool: Select[*tuple[Any, ...]], excluded: bool, tried: bool
) -> CompoundSelect[*tuple[Any, ...]]:
    """The owner and backup rows, then the pool's, in one statement: one round trip less.

    Pool rows carry no flags (the pool already leaves out the excluded and
    the tried) and no backup; an owner found in both keeps its own row's.
    """
    ranked = pool.subquery()
    owner_rows = _owner_and_backup(excluded, tried)
    return union_all(owner_rows, select(*ranked.c, false().label("excluded"), false().label("tried")))


def _resting(offices: int) -> ColumnElement[bool]:
    """Agents resting after a call in any of `offices` offices with a wrap-up time.

    The offices and their cut-offs are parameters, so the statement depends
    only on how many offices have one (most agencies: none).
    """
    if not offices:
        return false()
    return or_(
        *(
            and_(Office.code == bindparam(f"wrapup_office_{n}"), _call_ended_after(f"wrapup_since_{n}"))
            for n in range(offices)
        )
    )


def _resting_in_line_office() -> ColumnElement[bool]:
    """Agents of the line's office resting after a call (the office has a wrap-up time)."""
    return _call_ended_after("wrapup_since_line")


def _call_ended_after(since: str) -> ColumnElement[bool]:
    """The agent's last call ended after the time bound to `since`."""
    # Without the first term an agent who never had a call (NULL) would count as resting.
    return and_(
        Agent.last_call_ended_at.is_not(None),
        Agent.last_call_ended_at > bindparam(since, type_=UTCDateTime()),
    )


@dataclass(frozen=True, slots=True)
class Shape:
    """What the agents statement must look at for this call; one statement is built per shape.

    Most calls come from households without never-route agents and are
    decided once: their statement leaves those two lookups out (subqueries
    that cost a third of its time on PostgreSQL).
    """

    owner: bool
    # The line's office: its strategy, and whether it has a wrap-up time.
    line_strategy: str
    line_wrapup: bool
    # Every office: how many have a wrap-up time, and the strategies they use.
    offices_in_wrapup: int
    strategies: frozenset[str]
    excluded: bool
    tried: bool


@functools.cache
def agents_query(shape: Shape) -> Prepared:
    """The pool (after the owner and backup when there is an owner), built once per shape."""
    pool = _pool(shape)
    return Prepared(_owner_then(pool, shape.excluded, shape.tried) if shape.owner else pool)


# Every agent, flagged if excluded from the household or already rung for the
# call: what `callkeeper route` needs to say why each agent was left out.
# Never on a live call's path (the live statement reads only whom it can plan).
EVERY_AGENT = Prepared(
    _agent_rows(
        Agent.id.in_(_EXCLUDED).label("excluded"),
        Agent.id.in_(_TRIED).label("tried"),
    ).order_by(Office.code, Agent.login)
)


# Named agents, busy or not, flagged as `EVERY_AGENT` flags them: a household's
# co-owners and a dispute's managers, whom the plan rings as owners and whose
# reasons for being left out `callkeeper route` names. Only for households
# that have some (`router.routing.snapshot.load_owners`).
BY_LOGINS = _agent_rows(
    Agent.id.in_(_EXCLUDED).label("excluded"),
    Agent.id.in_(_TRIED).label("tried"),
).where(Agent.login.in_(bindparam("logins", expanding=True)))
