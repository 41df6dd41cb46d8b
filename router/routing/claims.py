"""Atomic claims: two simultaneous calls never ring the same free agent.

A claim is one conditional UPDATE whose row count says who won. It works the
same on SQLite (where the write lock serializes it) and on PostgreSQL (where
the row lock does), on one node or many. On PostgreSQL an agent another call
is claiming at that moment is skipped, not waited for (`FOR UPDATE SKIP
LOCKED`, which SQLite compiles to nothing). A claim carries its expiry, so a
process that dies mid-call frees its agents by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    CursorResult,
    Integer,
    Update,
    bindparam,
    case,
    null,
    or_,
    select,
    update,
)

from router.storage.models import Agent
from router.storage.prepared import Prepared

log = logging.getLogger(__name__)

# Added to the ring time so a claim outlives the dial it covers.
CLAIM_MARGIN_SECONDS = 10


def claim_ttl(timeout: int, wait_seconds: int, cap: int) -> timedelta:
    """How long a claim holds: the ring (and any wait for the owner) plus a margin, capped."""
    return timedelta(seconds=min(timeout + wait_seconds + CLAIM_MARGIN_SECONDS, cap))


# The agent, if free to claim. Concurrent calls rank the same free agents first,
# so on PostgreSQL an agent whose row another call's transaction is claiming
# right now is passed over at once (SKIP LOCKED) instead of waited for: waiting
# queued every decision behind the one before it, past the deadline. SQLite
# has one writer at a time and compiles the lock clause to nothing.
_CLAIMABLE = (
    select(Agent.id)
    .where(
        Agent.login == bindparam("agent"),
        Agent.state == "available",
        or_(Agent.claimed_by.is_(None), Agent.claim_expires_at < bindparam("now")),
    )
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
_CLAIM_STATEMENT = (
    update(Agent)
    .where(Agent.id == _CLAIMABLE)
    .values(
        claimed_by=bindparam("uid"), claim_expires_at=bindparam("until"), last_offered_at=bindparam("now")
    )
)
_CLAIM = Prepared(_CLAIM_STATEMENT)
_OURS = Agent.claimed_by == bindparam("uid")
_RELEASE_AGENT = (
    update(Agent)
    .where(Agent.login == bindparam("agent"))
    .values(
        claimed_by=case((_OURS, None), else_=Agent.claimed_by),
        claim_expires_at=case((_OURS, None), else_=Agent.claim_expires_at),
    )
    .returning(Agent.id)
)
_RELEASE = Prepared(_RELEASE_AGENT)
_RELEASE_AND_COUNT_AGENT = _RELEASE_AGENT.values(
    last_call_ended_at=bindparam("ended"),
    calls_today=case((Agent.calls_day == bindparam("today"), Agent.calls_today + 1), else_=1),
    calls_day=bindparam("today"),
)
_RELEASE_AND_COUNT = Prepared(_RELEASE_AND_COUNT_AGENT)


def claim(connection: Connection, login: str, uid: str, now: datetime, ttl: timedelta) -> bool:
    """Claim `login` for call `uid` if it is available and unclaimed (or its claim expired).

    Even the call holding the claim cannot claim again: call ids come from
    Asterisk and two servers may repeat one, so a matching id proves nothing.
    """
    won = _CLAIM.rowcount(connection, claim_params(login, uid, now, ttl)) == 1
    log.debug("claim of %s for call %s: %s", login, uid, "won" if won else "lost")
    return won


def claim_params(login: str, uid: str, now: datetime, ttl: timedelta) -> dict[str, Any]:
    """The values of the claim statement, for `claim` and `claiming`."""
    return {"agent": login, "uid": uid, "now": now, "until": now + ttl}


def claiming(name: str) -> CTE:
    """The claim as a common table expression: the claimed agent's id, or no row.

    PostgreSQL runs a statement that writes in a WITH clause as part of the
    statement around it, so another write can carry the claim with it (the
    decision's row does: `router.routing.ledger`). Same rule, same values
    (`claim_params`) as `claim`.
    """
    return _CLAIM_STATEMENT.returning(Agent.id).cte(name)


def finish(connection: Connection, login: str, uid: str, ended_at: datetime | None) -> int | None:
    """End call `uid`'s claim on `login` (another call's claim is left alone); returns the agent id.

    With `ended_at` (an answered call) the agent's fairness inputs are updated
    in the same statement: when their last call ended, and today's call count.
    """
    ending = _RELEASE if ended_at is None else _RELEASE_AND_COUNT
    return ending.scalar(connection, finish_params(login, uid, ended_at))


def finish_params(login: str, uid: str, ended_at: datetime | None) -> dict[str, Any]:
    """The values of the statement that ends a claim, for `finish` and `finishing`."""
    if ended_at is None:
        return {"agent": login, "uid": uid}
    return {"agent": login, "uid": uid, "ended": ended_at, "today": ended_at.date()}


def finishing(name: str, *, answered: bool, only_if: ColumnElement[bool] | None = None) -> CTE:
    """`finish` as a common table expression (the agent's id, or no row), like `claiming`.

    The statement `finish` runs, with `finish_params`'s values; `only_if`
    adds a condition the rest of a statement needs, so that the claim ends
    only when that statement's other writes happen too.
    """
    ending = _RELEASE_AND_COUNT_AGENT if answered else _RELEASE_AGENT
    if only_if is not None:
        ending = ending.where(only_if)
    return ending.cte(name)


def _releasing_others(agent_id: ColumnElement[int]) -> Update:
    return (
        update(Agent)
        .where(Agent.claimed_by == bindparam("uid"), Agent.id != agent_id)
        .values(claimed_by=null(), claim_expires_at=null())
    )


_RELEASE_OTHERS = Prepared(_releasing_others(bindparam("agent_id", type_=Integer())))


def release_others(connection: Connection, uid: str, agent_id: int) -> int:
    """End call `uid`'s claims on every agent but `agent_id`; returns how many.

    One statement, for advise mode's answered call, which was advised several
    agents at once. Like `finish`, it trusts the call id for the claims it
    ends (the agents table is small: no index is needed to find them).
    """
    return _RELEASE_OTHERS.rowcount(connection, {"uid": uid, "agent_id": agent_id})


def releasing_others(name: str, finished: CTE) -> CTE:
    """`release_others` as a common table expression, sparing the agent `finished` returns.

    With no row in `finished` it ends no claim.
    """
    return _releasing_others(select(finished.c.id).scalar_subquery()).cte(name)


def extend(connection: Connection, uids: Sequence[str], until: datetime) -> int:
    """Keep the claims of calls still in progress until at least `until`; returns how many.

    The call front calls this every few seconds for its live calls, so a call
    that talks for an hour keeps its agent, while the claims of a process that
    died lapse within one heartbeat TTL.
    """
    if not uids:
        return 0
    result = connection.execute(
        update(Agent)
        .where(Agent.claimed_by.in_(list(uids)), Agent.claim_expires_at < until)
        .values(claim_expires_at=until)
    )
    return _rowcount(result)


def _rowcount(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0
