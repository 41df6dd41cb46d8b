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

from sqlalchemy import Connection, and_, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from identity.index import SuggestionIndex
from identity.matching import email_key
from identity.records import Query, Suggestion
from router.directory import co_owners, household_reads
from router.directory.offices import line_key
from router.leads.fair import LeadAgent, choose
from router.leads.values import LeadIn
from router.routing import ownership
from router.routing.plan import OFFICE_POOL, OVERFLOW, OWNER, OWNER_BACKUP
from router.storage.models import DISABLED, Agent, Exclusion, Household, HouseholdOwner, Lead, Line, Office
from router.storage.prepared import Prepared

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
        found = _BY_EMAIL.scalar(session.connection(), {"email": email_key(email)})
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
    """Who works the lead, and why (the same words as a call's route).

    Plain prepared statements on the session's connection (`router.storage.prepared`):
    a lead's reads are a few indexed rows, and the ORM cost several times them.
    """
    connection = session.connection()
    household = (
        _HOUSEHOLD.first(connection, {"household_id": family.household_id}) if family.household_id else None
    )
    excluded: set[int] = set()
    if household is not None:
        household_id, owner_id, owner_login, owner_state, owner_office = household[:5]
        since = now - timedelta(hours=duplicate_hours)
        earlier = _RECENT_LEAD.first(connection, {"household_id": household_id, "since": since})
        if earlier is not None and earlier[1] is not None and earlier[2] != DISABLED:
            return Manager(earlier[1], DUPLICATE, earlier[0])
        excluded = {row[0] for row in _EXCLUDED.rows(connection, {"household_id": household_id})}
        if owner_id is not None and ownership.lapse_due(connection, household_id, now, lapse_days):
            ownership.lapse_if_due(connection, household_id, now, lapse_days)
        elif owner_id is not None:
            chosen = _among_owners(
                connection, household_id, (owner_id, owner_login, owner_state), excluded, now, seed
            )
            if chosen is not None:
                return Manager(chosen, OWNER)
        if owner_id is not None:
            policy, backup_id, backup_login, backup_state = household[5:]
            if (
                policy == "backup"
                and backup_id is not None
                and backup_state != DISABLED
                and backup_id not in excluded
            ):
                return Manager(backup_login, OWNER_BACKUP)
            return _pool(connection, owner_office, excluded, now, seed)
    return _pool(connection, _office(connection, line, office, default_office, region), excluded, now, seed)


def _office(connection: Connection, line: str, office: str, default_office: str, region: str) -> int | None:
    """The id of the lead's line's office, else its office's, else `default_office`'s, else the first by code.

    An unknown line or office falls through to the next: an order is never
    refused for a form's misconfigured field (it is kept on the lead as sent).
    A line is found as a call's is: by inbound number, else by office code.
    """
    if line:
        found = _OFFICE_BY_LINE.scalar(connection, {"number": line_key(line, region)})
        if found is not None:
            return int(found)
    for code in (line.strip(), office, default_office):
        found = _OFFICE_BY_CODE.scalar(connection, {"code": code}) if code else None
        if found is not None:
            return int(found)
    first = _OFFICES.first(connection, {})
    return None if first is None else int(first[0])


def _pool(connection: Connection, home: int | None, excluded: set[int], now: datetime, seed: str) -> Manager:
    """The home office's available agents by its strategy, then the other offices' in code order."""
    offices = _OFFICES.rows(connection, {})
    ordered = [o for o in offices if o[0] == home] + [o for o in offices if o[0] != home]
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for office_id, strategy in ordered:
        agents = [
            LeadAgent(login, last_at, count)
            for agent_id, login, last_at, count in _AVAILABLE.rows(
                connection, {"office_id": office_id, "day_start": day_start}
            )
            if agent_id not in excluded
        ]
        chosen = choose(agents, strategy, seed)
        if chosen is not None:
            first = home is None or office_id == home
            return Manager(chosen.login, OFFICE_POOL if first else OVERFLOW)
    return Manager(None, UNASSIGNED)


def _among_owners(
    connection: Connection,
    household_id: int,
    owner: tuple[int, str, str],
    excluded: set[int],
    now: datetime,
    seed: str,
) -> str | None:
    """The owner, or with co-owners the first available in order, or the equal one with fewest leads.

    Disabled and excluded owners are passed over; when none of the others is
    available the lead still goes to one of them, to work on return.
    """
    rows = _CO_OWNERS.rows(connection, {"household_id": household_id})
    owners = [
        (agent_id, login, state)
        for agent_id, login, state in (owner, *((row[0], row[1], row[2]) for row in rows))
        if state != DISABLED and agent_id not in excluded
    ]
    if len(owners) <= 1:
        return owners[0][1] if owners else None
    available = [agent for agent in owners if agent[2] == "available"] or owners
    if rows[0][3] != co_owners.EQUAL:
        return available[0][1]
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    counted = connection.execute(
        _LEAD_COUNTS.where(Agent.id.in_([agent[0] for agent in available])), {"day_start": day_start}
    )
    chosen = choose(
        [LeadAgent(login, last_at, count) for _, login, last_at, count in counted], "fewest-calls", seed
    )
    return chosen.login if chosen is not None else None


# A household's co-owners in order, with how they ring (the same mode on each row).
_CO_OWNERS = Prepared(
    select(Agent.id, Agent.login, Agent.state, HouseholdOwner.mode)
    .join(Agent, Agent.id == HouseholdOwner.agent_id)
    .where(HouseholdOwner.household_id == bindparam("household_id"))
    .order_by(HouseholdOwner.position)
)
_BY_EMAIL = Prepared(
    select(Household.id)
    .where(func.lower(Household.email) == bindparam("email"))
    .order_by(Household.id)
    .limit(1)
)
_owner, _backup = aliased(Agent), aliased(Agent)
# The household with what the owner rule reads: its owner, the owner's office policy and backup.
_HOUSEHOLD = Prepared(
    select(
        Household.id,
        Household.owner_id,
        _owner.login,
        _owner.state,
        _owner.office_id,
        Office.owner_policy,
        _backup.id,
        _backup.login,
        _backup.state,
    )
    .outerjoin(_owner, _owner.id == Household.owner_id)
    .outerjoin(Office, Office.id == _owner.office_id)
    .outerjoin(_backup, _backup.id == _owner.backup_id)
    .where(Household.id == bindparam("household_id"))
)
_RECENT_LEAD = Prepared(
    select(Lead.id, Agent.login, Agent.state)
    .outerjoin(Agent, Agent.id == Lead.assigned_agent_id)
    .where(Lead.household_id == bindparam("household_id"), Lead.received_at >= bindparam("since"))
    .order_by(Lead.received_at.desc(), Lead.id.desc())
    .limit(1)
)
_EXCLUDED = Prepared(select(Exclusion.agent_id).where(Exclusion.household_id == bindparam("household_id")))
_OFFICE_BY_LINE = Prepared(select(Line.office_id).where(Line.number == bindparam("number")))
_OFFICE_BY_CODE = Prepared(select(Office.id).where(Office.code == bindparam("code")))
_OFFICES = Prepared(select(Office.id, Office.strategy).order_by(Office.code))
# Agents with their last lead ever and their leads since `day_start`, what `fair.choose`
# weighs (an alias: the outer join is on leads too); narrowed by a WHERE where used.
_earlier = aliased(Lead)
_LEAD_COUNTS = (
    select(
        Agent.id,
        Agent.login,
        select(func.max(_earlier.received_at))
        .where(_earlier.assigned_agent_id == Agent.id)
        .scalar_subquery(),
        func.count(Lead.id),
    )
    .outerjoin(Lead, and_(Lead.assigned_agent_id == Agent.id, Lead.received_at >= bindparam("day_start")))
    .group_by(Agent.id, Agent.login)
)
_AVAILABLE = Prepared(
    _LEAD_COUNTS.where(Agent.office_id == bindparam("office_id"), Agent.state == "available")
)
