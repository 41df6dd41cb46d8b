"""The audit trail of links, moves, merges and ownership changes."""

from __future__ import annotations

import getpass
import os
from typing import Any

from sqlalchemy import CTE, ColumnElement, Connection, bindparam, insert, select
from sqlalchemy.orm import Session

from router.directory import merges
from router.storage.db import utcnow
from router.storage.models import AuditEntry
from router.storage.prepared import Prepared
from router.storage.views import AuditView

_FIELDS = ("at", "action", "household_id", "subject", "before", "after", "reason", "actor")
_INSERT = Prepared(insert(AuditEntry), columns=_FIELDS)


def default_actor() -> str:
    """Who is acting when no --actor is given: the OS user."""
    try:
        return os.environ.get("CALLKEEPER_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    target: Session | Connection,
    action: str,
    *,
    household: int | None,
    subject: str = "",
    before: str = "",
    after: str = "",
    reason: str = "",
    actor: str,
) -> None:
    """One audit row. On a Session it is added with the session's other objects
    (the admin commands, batched at flush); on a Connection it is written at
    once (the router's own changes mid-call, which run without the ORM)."""
    fields = {
        "action": action,
        "household_id": household,
        "subject": subject,
        "before": before,
        "after": after,
        "reason": reason,
        "actor": actor,
    }
    if isinstance(target, Session):
        target.add(AuditEntry(**fields))
    else:
        _INSERT.rowcount(target, {**fields, "at": utcnow()})


# What `recording` takes as values: every field but the household.
_VALUES = tuple(field for field in _FIELDS if field != "household_id")


def recording(name: str, household_id: ColumnElement[int]) -> CTE:
    """An audit row as a common table expression, for a household another part of the statement gives.

    Its other fields are `recording_params`'s values, named apart from the
    statement's own (`audit_reason`, not `reason`).
    """
    columns = AuditEntry.__table__.c
    values = (bindparam(f"audit_{field}", type_=columns[field].type) for field in _VALUES)
    return insert(AuditEntry).from_select([*_VALUES, "household_id"], select(*values, household_id)).cte(name)


def recording_params(
    action: str, *, subject: str = "", before: str = "", after: str = "", reason: str = "", actor: str
) -> dict[str, Any]:
    """The values of `recording`'s row: the fields `record` takes, written now."""
    fields = {
        "at": utcnow(),
        "action": action,
        "subject": subject,
        "before": before,
        "after": after,
        "reason": reason,
        "actor": actor,
    }
    return {f"audit_{field}": value for field, value in fields.items()}


def trail(session: Session, household: int | None = None) -> list[AuditView]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if household is not None:
        ids = merges.evidence_ids(session, [merges.survivor(session, household)])
        query = query.where(AuditEntry.household_id.in_(ids))
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
