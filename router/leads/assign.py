"""Whose a lead is: the family it belongs to, then the manager, by the rules calls follow.

The family, first match wins:

1. the lead's phone is linked to a household: that one;
2. else its email is a household's (case-blind): that one;
3. else a suggestion at or above the automatic threshold: that family,
   `provisional` until a person confirms the pair;
4. else a new family.

The manager: a second order of the same family within `lead_duplicate_hours`
goes to the manager of the first (`duplicate_of`). Otherwise the owner, who
gets it even when paused or offline (to work on return: a lead rings no
phone); with co-owners, the first of them available in order (ordered), or
the equal co-owner given fewest leads today (equal). A disabled or
excluded owner, or one whose ownership lapses now, follows the owner's
office policy as a call does: the owner's backup, then the pool, never a
wait. The pool is the office's available agents chosen by
its strategy over leads (`router.leads.fair`), then the other offices'; a
new family's office is the lead's line or office, else the `default_office`
setting. With nobody available the lead is kept, unassigned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, aliased

from identity.index import SuggestionIndex
from identity.matching import email_key
from identity.records import Query, Suggestion
from router.directory import co_owners, household_reads
from router.directory.offices import office_for_line
from router.errors import NotFound
from router.leads.fair import LeadAgent, choose
from router.leads.values import LeadIn
from router.routing import ownership
from router.routing.plan import OFFICE_POOL, OVERFLOW, OWNER, OWNER_BACKUP
from router.storage.models import DISABLED, Agent, Exclusion, Household, Lead, Office

DUPLICATE = "duplicate"
UNASSIGNED = "unassigned"
BY_NUMBER, BY_EMAIL, BY_SUGGESTION, NEW_FAMILY = "number", "email", "suggestion", "new"


@dataclass(frozen=True, slots=True)
class Family:
    """The household a lead belongs to (None: a new one) and how it was found."""

    household_id: int | None
    matched_by: str
    suggestion: Suggestion | None = None


@dataclass(frozen=True, slots=True)
class Manager:
    login: str | None
    reason: str
    duplicate_of: int | None = None


def find_family(
    session: Session, lead: LeadIn, *, index: SuggestionIndex | None, auto_threshold: int
) -> Family:
    """The household of a lead's phone, email or (provisionally) best suggestion."""
    phone, email, name = lead.phone, lead.email, lead.name
    if phone:
        owner = household_reads.lookup(session, phone)
        if owner is not None:
            return Family(owner.household_id, BY_NUMBER)
    if email:
        found = session.scalar(
            select(Household.id).where(func.lower(Household.email) == email_key(email)).order_by(Household.id)
        )
        if found is not None:
            return Family(found, BY_EMAIL)
    if index is not None and (name or email or phone):
        query = Query(
            numbers=(phone,) if phone else (),
            names=(name,) if name else (),
            email=email,
            address=lead.address,
        )
        best = index.suggest(query, limit=1, min_score=auto_threshold)
        if best:
            return Family(best[0].household, BY_SUGGESTION, best[0])
    return Family(None, NEW_FAMILY)


def find_manager(
    session: Session,
    family: Family,
    *,
    line: str,
    office: str,
    default_office: str,
    region: str,
    now: datetime,
    seed: str,
    duplicate_hours: int,
    lapse_days: int,
) -> Manager:
    """Who works the lead, and why (the same words as a call's route)."""
    household = session.get(Household, family.household_id) if family.household_id is not None else None
    excluded: set[int] = set()
    if household is not None:
        earlier = _recent_lead(session, household.id, now - timedelta(hours=duplicate_hours))
        earlier_agent = earlier.assigned_agent if earlier is not None else None
        if earlier is not None and earlier_agent is not None and earlier_agent.state != DISABLED:
            return Manager(earlier_agent.login, DUPLICATE, earlier.id)
        never = select(Exclusion.agent_id).where(Exclusion.household_id == household.id)
        excluded = set(session.scalars(never))
        owner = household.owner
        if owner is not None and ownership.lapse_due(session.connection(), household.id, now, lapse_days):
            ownership.lapse_if_due(session.connection(), household.id, now, lapse_days)
            session.expire(household)
        elif owner is not None:
            chosen = _among_owners(session, household, excluded, now, seed)
            if chosen is not None:
                return Manager(chosen, OWNER)
        if owner is not None:
            home = owner.office
            backup = owner.backup
            if (
                home.owner_policy == "backup"
                and backup is not None
                and backup.state != DISABLED
                and backup.id not in excluded
            ):
                return Manager(backup.login, OWNER_BACKUP)
            return _pool(session, home, excluded, now, seed)
    return _pool(session, _office(session, line, office, default_office, region), excluded, now, seed)


def _office(session: Session, line: str, office: str, default_office: str, region: str) -> Office | None:
    """The lead's line's office, else its office, else `default_office`, else the first by code.

    An unknown line or office falls through to the next: an order is never
    refused for a form's misconfigured field (it is kept on the lead as sent).
    """
    if line:
        try:
            return office_for_line(session, line, region)
        except NotFound:
            pass
    for code in (office, default_office):
        found = session.scalar(select(Office).where(Office.code == code)) if code else None
        if found is not None:
            return found
    return session.scalar(select(Office).order_by(Office.code))


def _pool(session: Session, home: Office | None, excluded: set[int], now: datetime, seed: str) -> Manager:
    """The home office's available agents by its strategy, then the other offices' in code order."""
    offices = list(session.scalars(select(Office).order_by(Office.code)))
    ordered = [o for o in offices if home is not None and o.id == home.id] + [
        o for o in offices if home is None or o.id != home.id
    ]
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for office in ordered:
        chosen = choose(_available(session, office, excluded, day_start), office.strategy, seed)
        if chosen is not None:
            first = home is None or office.id == home.id
            return Manager(chosen.login, OFFICE_POOL if first else OVERFLOW)
    return Manager(None, UNASSIGNED)


def _among_owners(
    session: Session, household: Household, excluded: set[int], now: datetime, seed: str
) -> str | None:
    """The owner, or with co-owners the first available in order, or the equal one with fewest leads.

    Disabled and excluded owners are passed over; when none of the others is
    available the lead still goes to one of them, to work on return.
    """
    owners = [
        agent
        for agent in (household.owner, *(row.agent for row in household.co_owners))
        if agent is not None and agent.state != DISABLED and agent.id not in excluded
    ]
    if len(owners) <= 1:
        return owners[0].login if owners else None
    available = [agent for agent in owners if agent.state == "available"] or owners
    if household.owners_mode != co_owners.EQUAL:
        return available[0].login
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    counted = _lead_agents(session, day_start, Agent.id.in_([agent.id for agent in available]))
    chosen = choose(counted, "fewest-calls", seed)
    return chosen.login if chosen is not None else None


def _available(session: Session, office: Office, excluded: set[int], day_start: datetime) -> list[LeadAgent]:
    where = [Agent.office_id == office.id, Agent.state == "available"]
    if excluded:
        where.append(Agent.id.not_in(excluded))
    return _lead_agents(session, day_start, *where)


def _lead_agents(session: Session, day_start: datetime, *where: ColumnElement[bool]) -> list[LeadAgent]:
    """Agents matching `where` with their leads today and their last lead, for `fair.choose`."""
    # The agent's last lead ever, apart from today's count (an alias: the outer join is on leads too).
    earlier = aliased(Lead)
    last = (
        select(func.max(earlier.received_at)).where(earlier.assigned_agent_id == Agent.id).scalar_subquery()
    )
    query = (
        select(Agent.login, last, func.count(Lead.id))
        .outerjoin(Lead, and_(Lead.assigned_agent_id == Agent.id, Lead.received_at >= day_start))
        .where(*where)
        .group_by(Agent.id, Agent.login)
    )
    rows = session.execute(query)
    return [LeadAgent(login, last_at, count) for login, last_at, count in rows]


def _recent_lead(session: Session, household_id: int, since: datetime) -> Lead | None:
    return session.scalar(
        select(Lead)
        .where(Lead.household_id == household_id, Lead.received_at >= since)
        .order_by(Lead.received_at.desc(), Lead.id.desc())
        .limit(1)
    )
