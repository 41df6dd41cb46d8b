"""Immutable values handed out of the data layer, with their stable JSON forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


def iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at else None


@dataclass(frozen=True, slots=True)
class OfficeView:
    code: str
    name: str
    lines: tuple[str, ...]
    strategy: str
    owner_policy: str
    owner_wait_seconds: int
    attempt_timeout_seconds: int
    wrapup_seconds: int

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "lines": list(self.lines),
            "strategy": self.strategy,
            "owner_policy": self.owner_policy,
            "owner_wait": self.owner_wait_seconds,
            "attempt_timeout": self.attempt_timeout_seconds,
            "wrapup": self.wrapup_seconds,
        }


@dataclass(frozen=True, slots=True)
class AgentView:
    login: str
    name: str
    office: str
    dial: str
    backup: str | None
    state: str

    def as_json(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "name": self.name,
            "office": self.office,
            "dial": self.dial,
            "backup": self.backup,
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class NumberView:
    number: str
    label: str


@dataclass(frozen=True, slots=True)
class HouseholdView:
    id: int
    name: str
    owner: str | None
    members: tuple[str, ...]
    numbers: tuple[NumberView, ...]
    email: str
    address: str
    origin: str
    created_at: datetime
    last_contact_at: datetime | None
    # The owners besides `owner`, in order, and how they ring (`ordered` or `equal`).
    co_owners: tuple[str, ...] = ()
    owners_mode: str = "ordered"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "members": list(self.members),
            "numbers": [{"number": n.number, "label": n.label} for n in self.numbers],
            "email": self.email,
            "address": self.address,
            "created_at": iso(self.created_at),
            "last_contact_at": iso(self.last_contact_at),
            "co_owners": list(self.co_owners),
            "owners_mode": self.owners_mode,
        }


@dataclass(frozen=True, slots=True)
class AuditView:
    at: datetime
    action: str
    household: int | None
    subject: str
    before: str
    after: str
    reason: str
    actor: str

    def as_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "action": self.action,
            "household": self.household,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "actor": self.actor,
        }


@dataclass(frozen=True, slots=True)
class Owner:
    """The result of a number lookup: the household and who owns it."""

    household_id: int
    owner_login: str | None
    owner_id: int | None
