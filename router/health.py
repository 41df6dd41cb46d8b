"""Is the database answering? Asked with a deadline, so a hung database reads as "no"."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from router.metrics import UNKNOWN_OFFICE
from router.storage.db import Database
from router.storage.models import Agent, Dispute, Household, Office

log = logging.getLogger(__name__)


def not_ready(db: Database, timeout: float) -> str | None:
    """Why this process should not be counted on (None when ready): the SQLite
    file moved or replaced under it, or the database not answering in time."""
    problem = db.file_problem()
    if problem is not None:
        return problem
    return None if database_ready(db, timeout) else "database not ready"


def database_ready(db: Database, timeout: float) -> bool:
    """True when `SELECT 1` returns within `timeout` seconds.

    The pool does not test connections before use (see `router.storage.db`), so a
    connection the server dropped meanwhile fails once and is thrown away
    with its pool; the check then asks again on a fresh one.
    """
    answer: list[bool] = []

    def ping() -> None:
        for _ in range(2):
            try:
                with db.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                answer.append(True)
                return
            except DBAPIError as exc:
                log.debug("readiness check failed: %s", exc)
                if not exc.connection_invalidated:
                    return
            except Exception as exc:
                log.debug("readiness check failed: %s", exc)
                return

    worker = threading.Thread(target=ping, name="readyz", daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answer)


def agent_counts(db: Database) -> dict[tuple[str, str], int]:
    """How many agents each office has in each state, for the agents gauge."""
    with db.reader() as session:
        rows = session.execute(
            select(Office.code, Agent.state, func.count())
            .join(Agent.office)
            .group_by(Office.code, Agent.state)
        )
        return {(office, state): count for office, state, count in rows}


def open_disputes(db: Database, now: datetime) -> dict[str, tuple[int, float]]:
    """Open disputes by the office of the family's owner ("none" if it has none): count, oldest age."""
    with db.reader() as session:
        rows = session.execute(
            select(Office.code, func.count(), func.min(Dispute.opened_at))
            .select_from(Dispute)
            .outerjoin(Household, Household.id == Dispute.household_id)
            .outerjoin(Agent, Agent.id == Household.owner_id)
            .outerjoin(Office, Office.id == Agent.office_id)
            .where(Dispute.resolved_at.is_(None))
            .group_by(Office.code)
        )
        return {
            office or UNKNOWN_OFFICE: (count, max(0.0, (now - oldest).total_seconds()))
            for office, count, oldest in rows
        }


def office_codes(db: Database) -> list[str]:
    with db.reader() as session:
        return list(session.scalars(select(Office.code).order_by(Office.code)))
