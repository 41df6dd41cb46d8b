"""The audit trail of links, moves, merges and ownership changes."""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, ColumnElement, Connection, bindparam, insert, select
from sqlalchemy.orm import Session

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


def trail(
    session: Session,
    household: int | None = None,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    newest_first: bool = False,
    limit: int | None = None,
) -> list[AuditView]:
    """The audit rows that match every filter given, oldest first (or newest first, for a page)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc() if newest_first else AuditEntry.id)
    if household is not None:
        query = query.where(AuditEntry.household_id == household)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if limit is not None:
        query = query.limit(limit)
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
