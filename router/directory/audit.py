"""The audit trail of links, moves, merges and ownership changes."""

from __future__ import annotations

import getpass
import os
import pwd
from collections.abc import Collection, Iterable
from datetime import datetime
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


# The account `callkeeper serve` runs as (deploy/systemd); admins run the CLI
# through it (`runuser -u callkeeper -- callkeeper ...`), and the audit must
# then name the person, not the account.
SERVICE_ACCOUNT = "callkeeper"


def default_actor() -> str:
    """Who is acting when no --actor is given: the person, not the account they act through.

    CALLKEEPER_ACTOR if set; else the user who called sudo (SUDO_USER); else,
    when the effective user is the service account or root, the login name of
    the session's terminal (which `su` and `runuser` keep); else the effective
    user. The service account is named only when no person can be found
    (a timer or cron job).
    """
    named = os.environ.get("CALLKEEPER_ACTOR") or os.environ.get("SUDO_USER")
    if named:
        return named
    effective = _effective_user()
    if effective in (SERVICE_ACCOUNT, "root"):
        try:
            return os.getlogin()
        except OSError:
            pass
    return effective


def _effective_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"


# Audit actions whose `before` and `after` are the household's owner's login
# ("" for none): the trail from which the owner at any past moment is read.
OWNER_CHANGES = ("owner", "transfer", "lapse", "handover", "resolve")


def owners_before_changes(
    session: Session, households: Iterable[int]
) -> dict[int, list[tuple[datetime, str]]]:
    """For each household, every owner change as (when, the owner before it), oldest first."""
    changes: dict[int, list[tuple[datetime, str]]] = {}
    wanted = sorted(set(households))
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(AuditEntry.household_id, AuditEntry.at, AuditEntry.before)
            .where(AuditEntry.household_id.in_(wanted[start : start + 500]))
            .where(AuditEntry.action.in_(OWNER_CHANGES))
            .order_by(AuditEntry.household_id, AuditEntry.at, AuditEntry.id)
        )
        for household_id, at, before in rows:
            if household_id is not None:
                changes.setdefault(household_id, []).append((at, before))
    return changes


def owner_at(changes: list[tuple[datetime, str]], current: str | None, when: datetime) -> str | None:
    """The owner at `when`: the one before the first change after it, else today's owner."""
    for at, before in changes:
        if at > when:
            return before or None
    return current


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
    households: Collection[int] | None = None,
) -> list[AuditView]:
    """The audit rows that match every filter given, oldest first (or newest first, for a page).

    `household` takes that household with every id merged into it;
    `households` is that set already resolved (`merges.evidence_ids`).
    """
    query = select(AuditEntry).order_by(AuditEntry.id.desc() if newest_first else AuditEntry.id)
    if household is not None:
        households = merges.evidence_ids(session, [merges.survivor(session, household)])
    if households is not None:
        query = query.where(AuditEntry.household_id.in_(list(households)))
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
