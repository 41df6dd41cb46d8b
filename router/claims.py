"""Atomic claims: two simultaneous calls never ring the same free agent.

A claim is one conditional UPDATE whose row count says who won. It works the
same on SQLite (where the write lock serializes it) and on PostgreSQL (where
the row lock does), on one node or many, and needs no `SELECT ... FOR UPDATE`,
which SQLite does not have. A claim carries its expiry, so a process that dies
mid-call frees its agents by itself.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, and_, or_, update
from sqlalchemy.orm import Session

from router.models import Agent

log = logging.getLogger(__name__)

# Added to the ring time so a claim outlives the dial it covers.
CLAIM_MARGIN_SECONDS = 10


def claim_ttl(timeout: int, wait_seconds: int, cap: int) -> timedelta:
    """How long a claim holds: the ring (and any wait for the owner) plus a margin, capped."""
    return timedelta(seconds=min(timeout + wait_seconds + CLAIM_MARGIN_SECONDS, cap))


def claim(session: Session, login: str, uid: str, now: datetime, ttl: timedelta) -> bool:
    """Claim `login` for call `uid` if it is available and unclaimed (or its claim expired).

    The call that already holds the claim may claim again (it renews it), which
    is what a call waiting for a busy owner does on each retry.
    """
    result = session.execute(
        update(Agent)
        .where(
            Agent.login == login,
            Agent.state == "available",
            or_(
                Agent.claimed_by.is_(None),
                Agent.claimed_by == uid,
                Agent.claim_expires_at < now,
            ),
        )
        .values(claimed_by=uid, claim_expires_at=now + ttl, last_offered_at=now)
        .execution_options(synchronize_session=False)
    )
    won = _rowcount(result) == 1
    log.debug("claim of %s for call %s: %s", login, uid, "won" if won else "lost")
    return won


def release(session: Session, agent_id: int, uid: str) -> bool:
    """Drop the claim of call `uid` on the agent; someone else's claim is left alone."""
    result = session.execute(
        update(Agent)
        .where(and_(Agent.id == agent_id, Agent.claimed_by == uid))
        .values(claimed_by=None, claim_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def _rowcount(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0
