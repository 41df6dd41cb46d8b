"""Why a household belongs to its owner, told from the audit trail: the answer to "since when, and why?".

Every ownership change is an audit row already (the first answered call that
created the household, an adoption, a transfer with its reason, a lapse, a
merge that changed the owner); this reads them back as events a page or a
command can put in words, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from router.directory import audit
from router.storage.views import AuditView

FIRST_CALL = "first-call"
CREATED = "created"
ADOPTED = "adopted"
TRANSFERRED = "transferred"
LAPSED = "lapsed"
KINDS = (FIRST_CALL, CREATED, ADOPTED, TRANSFERRED, LAPSED)

_OWNER_ACTIONS = ("create", "owner", "transfer", "lapse")
_FIRST_CALL_REASON = "first answered call"


@dataclass(frozen=True, slots=True)
class OwnerEvent:
    """One change of owner: `owner` is who owns the household after it ("" for nobody)."""

    at: datetime
    kind: str
    owner: str
    previous: str
    by: str
    reason: str


def owner_history(session: Session, household_id: int) -> list[OwnerEvent]:
    rows = [row for row in audit.trail(session, household_id) if row.action in _OWNER_ACTIONS]
    return [event for event in map(_event, rows) if event is not None]


def _event(row: AuditView) -> OwnerEvent | None:
    if row.action == "create":
        owner = _owner_in_summary(row.after)
        if not owner:
            return None
        kind = FIRST_CALL if row.reason == _FIRST_CALL_REASON else CREATED
        return OwnerEvent(row.at, kind, owner, "", row.actor, row.reason)
    if row.action == "lapse":
        return OwnerEvent(row.at, LAPSED, row.after, row.before, row.actor, row.reason)
    if row.action == "owner" and not row.before:
        return OwnerEvent(row.at, ADOPTED, row.after, "", row.actor, row.reason)
    return OwnerEvent(row.at, TRANSFERRED, row.after, row.before, row.actor, row.reason)


def _owner_in_summary(summary: str) -> str:
    """The owner of an audit summary such as `owner=ivanova numbers=+7…` ("" for `owner=-`)."""
    for part in summary.split():
        if part.startswith("owner="):
            owner = part.removeprefix("owner=")
            return "" if owner == "-" else owner
    return ""
