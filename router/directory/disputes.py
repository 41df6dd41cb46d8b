"""Disputes: managers contesting one household, and the freeze that holds until a supervisor decides.

A dispute is opened by a supervisor (with a reason), or by the directory
itself when a merge or a move joins families with different owners. While it
is open nothing changes hands by itself: the owner does not lapse, an
answered call does not adopt the family, a transfer or a handover leaves it
alone. Only `resolve` changes the owner, naming the owner from now on (and
any co-owners) and the split policy for the bookings of the dispute's period,
with a reason; every step is audited, so the timeline shows it.

The checks the router makes mid-call (`OPEN_DISPUTE`) are one EXISTS on an
index, so a family with no dispute costs the call one index probe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select
from sqlalchemy.orm import Session

from router.directory import audit, household_reads, merges
from router.directory.co_owners import check_mode, check_owner, replace_owners
from router.directory.household_reads import login_of
from router.directory.offices import get_agent
from router.errors import N_, Conflict, InvalidInput, NotFound
from router.storage.db import utcnow
from router.storage.models import DISABLED, DISPUTE_ORIGINS, Dispute
from router.storage.views import iso

MANUAL, MERGE, MOVE, SPLIT = DISPUTE_ORIGINS


def open_dispute_of(household_id: Any) -> Any:
    """Whether `household_id` (a column or a value) has a dispute open: an EXISTS to put in a WHERE."""
    return exists().where(Dispute.household_id == household_id, Dispute.resolved_at.is_(None))


@dataclass(frozen=True, slots=True)
class DisputeView:
    id: int
    household: int
    agents: tuple[str, ...]
    origin: str
    reason: str
    opened_at: datetime
    opened_by: str
    resolved_at: datetime | None
    resolved_by: str
    resolution: str
    owner: str
    co_owners: tuple[str, ...]
    policy: str

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def age_days(self, now: datetime) -> float:
        """How long it has been (or was) open, in days."""
        end = self.resolved_at or now
        return (end - self.opened_at).total_seconds() / 86400

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "household": self.household,
            "agents": list(self.agents),
            "origin": self.origin,
            "reason": self.reason,
            "opened_at": iso(self.opened_at),
            "opened_by": self.opened_by,
            "open": self.is_open,
            "resolved_at": iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
            "owner": self.owner or None,
            "co_owners": list(self.co_owners),
            "policy": self.policy or None,
        }


def _view(row: Dispute) -> DisputeView:
    return DisputeView(
        id=row.id,
        household=row.household_id,
        agents=tuple(row.agents),
        origin=row.origin,
        reason=row.reason,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
        owner=row.owner,
        co_owners=tuple(row.co_owners or ()),
        policy=row.policy,
    )


def open_dispute(
    session: Session,
    household_id: int,
    agents: Sequence[str],
    *,
    reason: str,
    actor: str,
    origin: str = MANUAL,
) -> DisputeView:
    """Open a dispute over a household between two or more managers; audited.

    A household has at most one open dispute: a supervisor opening a second
    is told of the first; a merge or a move that finds one open adds its
    managers to it, so the freeze and the ringing cover everyone contesting.
    """
    if origin not in DISPUTE_ORIGINS:
        raise InvalidInput(f"origin must be one of {', '.join(DISPUTE_ORIGINS)}, not {origin!r}")
    if not reason.strip():
        raise InvalidInput(N_("a dispute needs a reason"))
    household = household_reads.get_household(session, merges.survivor(session, household_id))
    logins = list(dict.fromkeys(a.strip() for a in agents if a.strip()))
    if len(logins) < 2:
        raise InvalidInput(N_("a dispute is between at least two managers (--agents A,B)"))
    for login in logins:
        get_agent(session, login)
    existing = open_row(session, household.id)
    if existing is not None:
        if origin == MANUAL:
            raise Conflict(
                N_("household %(household)s already has dispute %(dispute)s open"),
                household=household.id,
                dispute=existing.id,
            )
        added = [login for login in logins if login not in existing.agents]
        if added:
            existing.agents = [*existing.agents, *added]
            _audit(session, existing, "dispute-join", after=",".join(added), reason=reason, actor=actor)
        session.flush()
        return _view(existing)
    row = Dispute(
        household_id=household.id,
        agents=logins,
        origin=origin,
        reason=reason.strip(),
        opened_at=utcnow(),
        opened_by=actor,
        co_owners=[],
    )
    session.add(row)
    session.flush()
    _audit(session, row, "dispute-open", after=",".join(logins), reason=row.reason, actor=actor)
    session.flush()
    return _view(row)


def resolve(
    session: Session,
    dispute_id: int,
    *,
    owner: str,
    co_owners: Sequence[str] = (),
    mode: str = "equal",
    policy: str,
    reason: str,
    actor: str,
) -> DisputeView:
    """Close a dispute: the owner from now on (and co-owners), the split policy of its bookings; audited.

    The owner's change is written with the action `resolve`, one of the
    audit's owner changes, so the owner at any past moment reads through it.
    The co-owners become the household's (`router.directory.co_owners`),
    rung as `mode` says; none clears any it had.
    """
    if not reason.strip():
        raise InvalidInput(N_("a resolution needs a reason"))
    if not policy.strip():
        raise InvalidInput(N_("a resolution names the split policy of the disputed bookings (--policy)"))
    row = _get(session, dispute_id)
    if row.resolved_at is not None:
        raise Conflict(
            N_("dispute %(dispute)s was resolved on %(at)s by %(actor)s"),
            dispute=row.id,
            at=iso(row.resolved_at),
            actor=row.resolved_by,
        )
    new_owner = get_agent(session, owner)
    if new_owner.state == DISABLED:
        raise InvalidInput(N_("agent %(login)r is disabled and cannot own a family"), login=owner)
    extra = [login for login in dict.fromkeys(c.strip() for c in co_owners if c.strip()) if login != owner]
    extra_agents = [check_owner(get_agent(session, login)) for login in extra]
    check_mode(mode)
    household = household_reads.get_household(session, merges.survivor(session, row.household_id))
    before = login_of(household.owner)
    replace_owners(session, household, [new_owner, *extra_agents], mode)
    row.resolved_at = utcnow()
    row.resolved_by = actor
    row.resolution = reason.strip()
    row.owner = new_owner.login
    row.co_owners = extra
    row.policy = policy.strip()
    audit.record(
        session,
        "resolve",
        household=household.id,
        subject=f"dispute {row.id}",
        before=before,
        after=new_owner.login,
        reason=f"co-owners {','.join(extra) or '-'}{f' ({mode})' if extra else ''}; "
        f"split {row.policy}: {row.resolution}",
        actor=actor,
    )
    session.flush()
    return _view(row)


def get_dispute(session: Session, dispute_id: int) -> DisputeView:
    return _view(_get(session, dispute_id))


def list_disputes(
    session: Session, *, open_only: bool = False, household: int | None = None
) -> list[DisputeView]:
    """Disputes, oldest first; `open_only` leaves out the resolved ones."""
    query = select(Dispute).order_by(Dispute.opened_at, Dispute.id)
    if open_only:
        query = query.where(Dispute.resolved_at.is_(None))
    if household is not None:
        ids = merges.evidence_ids(session, [merges.survivor(session, household)])
        query = query.where(Dispute.household_id.in_(ids))
    return [_view(row) for row in session.scalars(query)]


def of_households(session: Session, households: Sequence[int]) -> list[DisputeView]:
    """Every dispute over these households, oldest first (the split report reads them in bulk)."""
    query = select(Dispute).where(Dispute.household_id.in_(households)).order_by(Dispute.opened_at)
    return [_view(row) for row in session.scalars(query)]


def open_row(session: Session, household_id: int) -> Dispute | None:
    return session.scalar(
        select(Dispute).where(Dispute.household_id == household_id, Dispute.resolved_at.is_(None))
    )


def is_disputed(target: Session | Connection, household_id: int) -> bool:
    """Whether the household has a dispute open (the freeze's one question)."""
    return bool(target.execute(select(open_dispute_of(household_id))).scalar())


def refuse_if_disputed(session: Session, household_id: int, what: str) -> None:
    """A change of owner while a dispute is open is refused: only resolving it changes hands."""
    row = open_row(session, household_id)
    if row is not None:
        raise Conflict(
            N_(
                "household %(household)s is in dispute %(dispute)s (%(agents)s): "
                "no %(what)s until it is resolved (`dispute resolve %(dispute)s`)"
            ),
            household=household_id,
            dispute=row.id,
            agents=", ".join(row.agents),
            what=what,
        )


def _get(session: Session, dispute_id: int) -> Dispute:
    row = session.get(Dispute, dispute_id)
    if row is None:
        raise NotFound(N_("no dispute %(dispute)s"), dispute=dispute_id)
    return row


def _audit(session: Session, row: Dispute, action: str, *, after: str, reason: str, actor: str) -> None:
    audit.record(
        session,
        action,
        household=row.household_id,
        subject=f"dispute {row.id} ({row.origin})",
        after=after,
        reason=reason,
        actor=actor,
    )
