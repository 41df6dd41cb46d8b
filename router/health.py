"""Is the database answering? Asked with a deadline, so a hung database reads as "no"."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import func, select, text

from router.db import Database
from router.models import Agent, Office

log = logging.getLogger(__name__)


def database_ready(db: Database, timeout: float) -> bool:
    """True when `SELECT 1` returns within `timeout` seconds."""
    answer: list[bool] = []

    def ping() -> None:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            answer.append(True)
        except Exception as exc:
            log.debug("readiness check failed: %s", exc)

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


def office_codes(db: Database) -> list[str]:
    with db.reader() as session:
        return list(session.scalars(select(Office.code).order_by(Office.code)))
