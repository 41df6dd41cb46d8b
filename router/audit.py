"""The audit trail of links, moves, merges and ownership changes."""

from __future__ import annotations

import getpass
import os

from sqlalchemy import Connection, select
from sqlalchemy import insert as insert_into
from sqlalchemy.orm import Session

from router.db import utcnow
from router.models import AuditEntry
from router.views import AuditView

_INSERT = insert_into(AuditEntry)


def default_actor() -> str:
    """Who is acting when no --actor is given: the OS user."""
    try:
        return os.environ.get("CALLKEEPER_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    session: Session,
    action: str,
    *,
    household: int | None,
    subject: str = "",
    before: str = "",
    after: str = "",
    reason: str = "",
    actor: str,
) -> None:
    session.add(
        AuditEntry(
            action=action,
            household_id=household,
            subject=subject,
            before=before,
            after=after,
            reason=reason,
            actor=actor,
        )
    )


def insert(
    connection: Connection,
    action: str,
    *,
    household: int | None,
    subject: str = "",
    before: str = "",
    after: str = "",
    reason: str = "",
    actor: str,
) -> None:
    """`record`, written at once on a connection: for the router's own changes mid-call."""
    connection.execute(
        _INSERT,
        {
            "at": utcnow(),
            "action": action,
            "household_id": household,
            "subject": subject,
            "before": before,
            "after": after,
            "reason": reason,
            "actor": actor,
        },
    )


def trail(session: Session, household: int | None = None) -> list[AuditView]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if household is not None:
        query = query.where(AuditEntry.household_id == household)
    return [
        AuditView(
            at=e.at,
            action=e.action,
            household=e.household_id,
            subject=e.subject,
            before=e.before,
            after=e.after,
            reason=e.reason,
            actor=e.actor,
        )
        for e in session.scalars(query)
    ]
