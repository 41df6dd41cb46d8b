"""Handing a leaving agent's families to others in one audited step.

A handover is planned first and applied second, from the same plan: the dry
run shows exactly what the real run does. The plan gives every family the
leaving agent owns to one named agent (`to`), or spreads them over an
office's enabled agents by a stated rule:

- `fewest` (the default): each family, in id order, goes to the recipient who
  owns the fewest families at that moment (ties by login), so a team evens out;
- `round-robin`: in turn, by login, whatever each already owns.

Paused and offline agents are recipients (they are still on the team; a
call while they are away follows their office's policy); disabled ones are
not. Agents whose backup is the leaving agent are part of the plan: with
`to`, that agent becomes their backup; with a fair spread, their backup is
cleared (their office's pool covers), as the dry run shows.

A family in an open dispute is left out and listed (`HandoverPlan.disputed`):
only resolving the dispute changes its owner.

Each family's owner changes through `households.transfer` with the action
`handover` and the reason "handover from X to Y: <reason>", so the evidence
keeps who owned the family when (the splits of earlier bookings read it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from router.directory import audit, disputes, households
from router.directory.offices import get_agent, get_office
from router.errors import InvalidInput
from router.storage.models import DISABLED, Agent, Household

RULES = ("fewest", "round-robin")


@dataclass(frozen=True, slots=True)
class Move:
    household_id: int
    name: str
    to: str


@dataclass(frozen=True, slots=True)
class BackupChange:
    agent: str
    to: str | None


@dataclass(frozen=True, slots=True)
class HandoverPlan:
    leaving: str
    moves: tuple[Move, ...]
    backups: tuple[BackupChange, ...]
    disputed: tuple[Move, ...] = ()

    def counts(self) -> dict[str, int]:
        """Families each recipient gets, by login."""
        counts: dict[str, int] = {}
        for move in self.moves:
            counts[move.to] = counts.get(move.to, 0) + 1
        return counts


def plan_handover(
    session: Session, leaving: str, *, to: str | None = None, office: str | None = None, rule: str = "fewest"
) -> HandoverPlan:
    """Who gets each of `leaving`'s families: all to `to`, or spread over `office` by `rule`."""
    if (to is None) == (office is None):
        raise InvalidInput(
            "name one recipient (--to LOGIN) or an office to spread over (--fair --office CODE)"
        )
    if rule not in RULES:
        raise InvalidInput(f"rule must be one of {', '.join(RULES)}, not {rule!r}")
    agent = get_agent(session, leaving)
    owned = select(Household.id, Household.name).where(Household.owner_id == agent.id).order_by(Household.id)
    families = session.execute(owned.where(~disputes.open_dispute_of(Household.id))).all()
    disputed = tuple(
        Move(hid, name, "")
        for hid, name in session.execute(owned.where(disputes.open_dispute_of(Household.id)))
    )
    if to is not None:
        recipient = _recipient(session, to, leaving)
        moves = tuple(Move(hid, name, recipient.login) for hid, name in families)
        backup_to: str | None = recipient.login
    else:
        assert office is not None
        moves = _spread(session, agent, office, families, rule)
        backup_to = None
    covered = session.scalars(select(Agent.login).where(Agent.backup_id == agent.id).order_by(Agent.login))
    backups = tuple(BackupChange(login, backup_to if backup_to != login else None) for login in covered)
    return HandoverPlan(leaving, moves, backups, disputed)


def apply_handover(session: Session, plan: HandoverPlan, *, reason: str, actor: str) -> None:
    """Carry out `plan` in the caller's transaction: every move and backup change, audited."""
    if not reason.strip():
        raise InvalidInput("a handover needs a reason")
    for move in plan.moves:
        households.transfer(
            session,
            move.household_id,
            move.to,
            reason=f"handover from {plan.leaving} to {move.to}: {reason.strip()}",
            actor=actor,
            action="handover",
        )
    for change in plan.backups:
        agent = get_agent(session, change.agent)
        agent.backup = get_agent(session, change.to) if change.to else None
        audit.record(
            session,
            "backup",
            household=None,
            subject=change.agent,
            before=plan.leaving,
            after=change.to or "",
            reason=f"handover from {plan.leaving}: {reason.strip()}",
            actor=actor,
        )
    session.flush()


def _recipient(session: Session, login: str, leaving: str) -> Agent:
    agent = get_agent(session, login)
    if agent.login == leaving:
        raise InvalidInput("an agent cannot hand their families over to themselves")
    if agent.state == DISABLED:
        raise InvalidInput(f"agent {login!r} is disabled and cannot take families")
    return agent


def _spread(
    session: Session, leaving: Agent, office: str, families: Sequence[Row[int, str]], rule: str
) -> tuple[Move, ...]:
    home = get_office(session, office)
    owned = dict(
        session.execute(
            select(Agent.login, func.count(Household.id))
            .outerjoin(Household, Household.owner_id == Agent.id)
            .where(Agent.office_id == home.id, Agent.state != DISABLED, Agent.id != leaving.id)
            .group_by(Agent.login)
        ).all()
    )
    if not owned:
        raise InvalidInput(f"office {office!r} has no enabled agent to take the families")
    logins = sorted(owned)
    moves = []
    for n, (hid, name) in enumerate(families):
        if rule == "round-robin":
            chosen = logins[n % len(logins)]
        else:
            chosen = min(logins, key=lambda login: (owned[login], login))
        owned[chosen] += 1
        moves.append(Move(hid, name, chosen))
    return tuple(moves)
