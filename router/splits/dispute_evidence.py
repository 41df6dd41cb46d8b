"""What a supervisor reads to decide a dispute: each contested manager's evidence side by side.

For every manager of the dispute: the family's calls they answered and their
talk time (from the ledger, merged families' calls included), the family's
leads given to them, and, for the family's bookings, what each split policy
would give them. Read through the timeline's and the split report's bulk
queries, never one per call.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.directory import disputes, merges
from router.routing import ledger
from router.routing.plan import ANSWER
from router.splits import bookings, split_report
from router.splits.shares import POLICIES
from router.storage.models import Agent, Lead


@dataclass(frozen=True, slots=True)
class ManagerEvidence:
    agent: str
    calls: int
    talk_seconds: float
    leads: int
    # policy -> the amount (minor units) of the family's bookings that policy gives this manager.
    by_policy: dict[str, int]


@dataclass(frozen=True, slots=True)
class DisputeEvidence:
    dispute: disputes.DisputeView
    managers: tuple[ManagerEvidence, ...]
    bookings: int
    booked: int


def dispute_evidence(session: Session, dispute_id: int, *, region: str) -> DisputeEvidence:
    """The dispute and its managers' evidence over the family's whole history."""
    dispute = disputes.get_dispute(session, dispute_id)
    household = merges.survivor(session, dispute.household)
    calls: dict[str, int] = dict.fromkeys(dispute.agents, 0)
    talk: dict[str, float] = dict.fromkeys(dispute.agents, 0.0)
    for entry in ledger.entries(session, household=household):
        for attempt in entry.attempts:
            if attempt.status == ANSWER and attempt.agent in calls:
                calls[attempt.agent] += 1
                talk[attempt.agent] += attempt.talk_seconds
    leads = dict(
        session.execute(
            select(Agent.login, func.count(Lead.id))
            .join(Agent, Agent.id == Lead.assigned_agent_id)
            .where(Lead.household_id.in_(merges.evidence_ids(session, [household])))
            .group_by(Agent.login)
        ).all()
    )
    sales = bookings.list_bookings(session, household=household)
    listed = [b.for_report() for b in sales]
    by_policy: dict[str, dict[str, int]] = {agent: dict.fromkeys(POLICIES, 0) for agent in dispute.agents}
    for policy in POLICIES:
        for result in split_report.report(session, listed, policy=policy, region=region):
            for share in result.shares if result.error is None else ():
                if share.agent in by_policy:
                    by_policy[share.agent][policy] += share.amount
    managers = tuple(
        ManagerEvidence(agent, calls[agent], talk[agent], int(leads.get(agent, 0)), by_policy[agent])
        for agent in dispute.agents
    )
    return DisputeEvidence(dispute, managers, len(sales), sum(b.amount for b in sales))
