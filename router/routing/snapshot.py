"""Read what one decision needs from the database, in two statements.

A call costs: the caller's household and owner with the offices (and which
one owns the line), in one statement; then, in another
(`router.routing.agent_query`), the owner and the owner's backup, flagged if
excluded or already rung for this call, and the free agents the plan could
reach, already ranked by their office's strategy. Both run on the call's
connection (the ORM layer would cost more than the queries), and rows become
plain values (`router.routing.plan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    bindparam,
    cast,
    exists,
    false,
    literal,
    literal_column,
    null,
    select,
    union_all,
)

from router.directory.disputes import open_dispute_of
from router.directory.offices import line_key
from router.errors import N_, NotFound
from router.routing import agent_query
from router.routing.plan import AgentState, Call, OfficeSettings, Snapshot
from router.storage.models import (
    Agent,
    Decision,
    Dispute,
    Exclusion,
    Household,
    HouseholdOwner,
    Line,
    Office,
    PhoneNumber,
)
from router.storage.prepared import Prepared

# The caller's household and owner, and whether it has never-route agents (a
# row of kind 0, if the number is linked), then every office (kind 1) with
# whether it owns the line: one round trip for the two things a decision
# reads first. Each kind leaves the other's columns NULL (typed, as
# PostgreSQL wants every row of a UNION alike). Both say whether the call id
# was decided before.
_NO_INTEGER = cast(null(), Integer())
_NO_TEXT = cast(null(), String())
# Whether this call id was decided before (a call decided again after its plan
# ran out): only then can an agent have been rung for it already.
_CALL_SEEN = exists().where(Decision.call_uid == bindparam("uid")).label("call_seen")
_CONTEXT = Prepared(
    union_all(
        select(
            literal(0).label("kind"),
            PhoneNumber.household_id,
            Household.owner_id,
            Agent.login,
            _NO_TEXT.label("code"),
            _NO_TEXT.label("strategy"),
            _NO_TEXT.label("owner_policy"),
            _NO_INTEGER.label("owner_wait_seconds"),
            _NO_INTEGER.label("attempt_timeout_seconds"),
            _NO_INTEGER.label("wrapup_seconds"),
            false().label("has_line"),
            exists().where(Exclusion.household_id == PhoneNumber.household_id).label("has_exclusions"),
            _CALL_SEEN,
            exists().where(HouseholdOwner.household_id == PhoneNumber.household_id).label("co_owned"),
            open_dispute_of(PhoneNumber.household_id).label("disputed"),
        )
        .join(Household, Household.id == PhoneNumber.household_id)
        .outerjoin(Agent, Agent.id == Household.owner_id)
        .where(PhoneNumber.number == bindparam("key")),
        select(
            literal(1),
            _NO_INTEGER,
            _NO_INTEGER,
            _NO_TEXT,
            Office.code,
            Office.strategy,
            Office.owner_policy,
            Office.owner_wait_seconds,
            Office.attempt_timeout_seconds,
            Office.wrapup_seconds,
            exists().where(Line.office_id == Office.id, Line.number == bindparam("line")),
            false(),
            _CALL_SEEN,
            false(),
            false(),
        ),
    ).order_by(literal_column("kind"), literal_column("code"))
)


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose call it is: the household and its owner, before any lapse is applied.

    `has_exclusions`: the household names agents never to route to;
    `co_owned`: it has co-owners; `disputed`: a dispute over it is open
    (either costs the call one statement more: `load_owners`).
    """

    household_id: int | None
    owner_id: int | None
    owner: str | None
    has_exclusions: bool = False
    co_owned: bool = False
    disputed: bool = False


@dataclass(frozen=True, slots=True)
class Offices:
    """Every office, and the code of the one owning the line asked about (None if none)."""

    all: tuple[OfficeSettings, ...]
    line_office: str | None


@dataclass(frozen=True, slots=True)
class Context:
    """What a decision reads first: whose call it is, the offices, whether the call was decided before."""

    subject: Subject
    offices: Offices
    call_seen: bool


def load_context(connection: Connection, call: Call, region: str) -> Context:
    """The caller's household and owner, and the offices with the one owning `call.line`.

    The line is an inbound number or an office code; an anonymous caller is
    in no household.
    """
    text = call.line.strip()
    line = line_key(text, region) if text else ""
    key = None if call.caller.is_anonymous else call.caller.key
    subject = Subject(None, None, None)
    offices: list[OfficeSettings] = []
    line_office = None
    call_seen = False
    for row in _CONTEXT.rows(connection, {"key": key, "line": line, "uid": call.uid}):
        call_seen = bool(row[12])
        if row[0] == 0:
            subject = Subject(row[1], row[2], row[3], bool(row[11]), bool(row[13]), bool(row[14]))
            continue
        offices.append(OfficeSettings(*row[4:10]))
        if row[10] and line_office is None:
            line_office = row[4]
    if line_office is None and text and any(o.code == text for o in offices):
        line_office = text
    return Context(subject, Offices(tuple(offices), line_office), call_seen)


def office_or_default(offices: Offices, default: str) -> str | None:
    """The live router's office: the line's, else the `default_office` setting, else the first."""
    if offices.line_office is not None:
        return offices.line_office
    if default and any(o.code == default for o in offices.all):
        return default
    return offices.all[0].code if offices.all else None


def require_office(offices: Offices, line: str) -> str:
    if offices.line_office is None:
        raise NotFound(N_("no office has line %(line)r"), line=line)
    return offices.line_office


def load_snapshot(
    connection: Connection,
    call: Call,
    subject: Subject,
    office: str | None,
    offices: tuple[OfficeSettings, ...],
    *,
    call_seen: bool,
) -> Snapshot:
    """The agents the plan may reach, with the owner and backup; `call_seen` as in `Context`."""
    params: dict[str, Any] = {
        "household_id": subject.household_id,
        "uid": call.uid,
        "now": call.at,
        "today": call.at.date(),
        "owner_id": subject.owner_id,
        "office": office,
    }
    agents: dict[str, AgentState] = {}
    excluded: set[str] = set()
    tried: set[str] = set()
    resting = [o for o in offices if o.wrapup_seconds]
    for n, office_resting in enumerate(resting):
        params[f"wrapup_office_{n}"] = office_resting.code
        params[f"wrapup_since_{n}"] = call.at - timedelta(seconds=office_resting.wrapup_seconds)
    line = next((o for o in offices if o.code == office), OfficeSettings(office or ""))
    if line.wrapup_seconds:
        params["wrapup_since_line"] = call.at - timedelta(seconds=line.wrapup_seconds)
    shape = agent_query.Shape(
        owner=subject.owner_id is not None,
        line_strategy=line.strategy,
        line_wrapup=bool(line.wrapup_seconds),
        offices_in_wrapup=len(resting),
        strategies=frozenset(o.strategy for o in offices),
        excluded=subject.has_exclusions,
        tried=call_seen,
    )
    query = agent_query.agents_query(shape)
    width = len(agent_query.COLUMNS)
    for row in query.rows(connection, params):
        if row[0] not in agents or row[agent_query.BACKUP_COLUMN] is not None:
            agents[row[0]] = AgentState(*row[:width])
        if len(row) > width:
            if row[width]:
                excluded.add(row[0])
            if row[width + 1]:
                tried.add(row[0])
    owners = load_owners(connection, subject)
    if owners.everyone:
        for row in _owner_states(connection, owners.everyone, call.uid, subject.household_id):
            if row[0] not in agents:
                agents[row[0]] = AgentState(*row[:width])
            if row[width]:
                excluded.add(row[0])
            if row[width + 1]:
                tried.add(row[0])
    return Snapshot(
        office=office,
        offices=offices,
        agents=tuple(agents.values()),
        household_id=subject.household_id,
        owner=subject.owner,
        excluded=frozenset(excluded),
        tried=frozenset(tried),
        co_owners=owners.co_owners,
        owners_mode=owners.mode,
        contested=owners.contested,
    )


def load_every_agent(
    connection: Connection,
    call: Call,
    subject: Subject,
    office: str | None,
    offices: tuple[OfficeSettings, ...],
) -> Snapshot:
    """Every agent, with the household's exclusions and the call's agents already rung.

    For explaining a plan (`decision.skipped`), not for deciding one: the
    live snapshot leaves out the agents it could never plan.
    """
    params = {"household_id": subject.household_id, "uid": call.uid}
    width = len(agent_query.COLUMNS)
    agents: list[AgentState] = []
    excluded: set[str] = set()
    tried: set[str] = set()
    for row in agent_query.EVERY_AGENT.rows(connection, params):
        agents.append(AgentState(*row[:width]))
        if row[width]:
            excluded.add(row[0])
        if row[width + 1]:
            tried.add(row[0])
    owners = load_owners(connection, subject)
    return Snapshot(
        office=office,
        offices=offices,
        agents=tuple(agents),
        household_id=subject.household_id,
        owner=subject.owner,
        excluded=frozenset(excluded),
        tried=frozenset(tried),
        co_owners=owners.co_owners,
        owners_mode=owners.mode,
        contested=owners.contested,
    )


@dataclass(frozen=True, slots=True)
class Owners:
    """A household's co-owners (besides the owner) and their mode, and its open dispute's managers."""

    co_owners: tuple[str, ...] = ()
    mode: str = "ordered"
    contested: tuple[str, ...] = ()

    @property
    def everyone(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.co_owners, *self.contested)))


_CO_OWNERS = Prepared(
    select(Agent.login, HouseholdOwner.mode)
    .join(HouseholdOwner, HouseholdOwner.agent_id == Agent.id)
    .where(HouseholdOwner.household_id == bindparam("household_id"))
    .order_by(HouseholdOwner.position)
)
_CONTESTED = Prepared(
    select(Dispute.agents).where(
        Dispute.household_id == bindparam("household_id"), Dispute.resolved_at.is_(None)
    )
)


def load_owners(connection: Connection, subject: Subject) -> Owners:
    """The co-owners and the dispute's managers of `subject`'s household; nothing read when it has none."""
    if subject.household_id is None or not (subject.co_owned or subject.disputed):
        return Owners()
    params = {"household_id": subject.household_id}
    co_owners: tuple[str, ...] = ()
    mode = "ordered"
    if subject.co_owned and subject.owner is not None:
        rows = _CO_OWNERS.rows(connection, params)
        co_owners = tuple(row[0] for row in rows if row[0] != subject.owner)
        mode = rows[0][1] if rows else mode
    contested: tuple[str, ...] = ()
    if subject.disputed:
        row = _CONTESTED.first(connection, params)
        contested = tuple(row[0]) if row is not None else ()
    return Owners(co_owners, mode, contested)


def _owner_states(
    connection: Connection, logins: tuple[str, ...], uid: str, household_id: int | None
) -> list[Any]:
    """The owners' agent rows with their excluded and already-rung flags, busy or not."""
    return list(
        connection.execute(
            agent_query.BY_LOGINS, {"logins": list(logins), "uid": uid, "household_id": household_id}
        )
    )
