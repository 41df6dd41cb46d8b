"""Read what one decision needs from the database, in a handful of indexed queries.

One query each: the caller's household and owner, the offices, the line, the
agents who could be rung (available ones and the owner), the household's
exclusions, and the agents already rung for this call. Rows come back as
plain values (`router.plan`), never as ORM objects, so a decision costs no
identity-map work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from router import households
from router.directory import line_key
from router.errors import NotFound
from router.models import Agent, Attempt, Decision, Exclusion, Line, Office
from router.plan import AgentState, Call, OfficeSettings, Snapshot


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose call it is: the household and its owner, before any lapse is applied."""

    household_id: int | None
    owner_id: int | None
    owner: str | None


def find_subject(session: Session, call: Call) -> Subject:
    if call.caller.is_anonymous:
        return Subject(None, None, None)
    found = households.lookup(session, call.caller.key)
    if found is None:
        return Subject(None, None, None)
    return Subject(found.household_id, found.owner_id, found.owner_login)


def load_offices(session: Session) -> tuple[OfficeSettings, ...]:
    rows = session.execute(
        select(
            Office.code,
            Office.strategy,
            Office.owner_policy,
            Office.owner_wait_seconds,
            Office.attempt_timeout_seconds,
            Office.wrapup_seconds,
        ).order_by(Office.code)
    )
    return tuple(OfficeSettings(*row) for row in rows)


def line_office(session: Session, line: str, region: str, offices: tuple[OfficeSettings, ...]) -> str | None:
    """The office code of `line` (an inbound number or an office code), or None if unknown."""
    text = line.strip()
    if not text:
        return None
    code = session.scalar(select(Office.code).join(Line).where(Line.number == line_key(text, region)))
    if code is not None:
        return str(code)
    return text if any(o.code == text for o in offices) else None


def office_or_default(
    session: Session, line: str, region: str, offices: tuple[OfficeSettings, ...], default: str
) -> str | None:
    """The live router's office: the line's, else the `default_office` setting, else the first."""
    code = line_office(session, line, region, offices)
    if code is not None:
        return code
    if default and any(o.code == default for o in offices):
        return default
    return offices[0].code if offices else None


def require_office(session: Session, line: str, region: str, offices: tuple[OfficeSettings, ...]) -> str:
    code = line_office(session, line, region, offices)
    if code is None:
        raise NotFound(f"no office has line {line!r}")
    return code


def load_snapshot(
    session: Session,
    call: Call,
    subject: Subject,
    office: str | None,
    offices: tuple[OfficeSettings, ...],
) -> Snapshot:
    backup = aliased(Agent)
    home = aliased(Office)
    wanted = Agent.state == "available"
    if subject.owner_id is not None:
        wanted = or_(wanted, Agent.id == subject.owner_id)
    rows = session.execute(
        select(
            Agent.login,
            home.code,
            Agent.dial,
            Agent.state,
            Agent.state_changed_at,
            backup.login,
            Agent.claimed_by,
            Agent.claim_expires_at,
            Agent.last_call_ended_at,
            Agent.last_offered_at,
            Agent.calls_day,
            Agent.calls_today,
        )
        .join(home, home.id == Agent.office_id)
        .outerjoin(backup, backup.id == Agent.backup_id)
        .where(wanted)
    )
    agents = tuple(AgentState(*row) for row in rows)
    excluded: frozenset[str] = frozenset()
    if subject.household_id is not None:
        excluded = frozenset(
            session.scalars(
                select(Agent.login)
                .join(Exclusion, Exclusion.agent_id == Agent.id)
                .where(Exclusion.household_id == subject.household_id)
            )
        )
    tried = frozenset(
        session.scalars(
            select(Agent.login)
            .join(Attempt, Attempt.agent_id == Agent.id)
            .join(Decision, Decision.id == Attempt.decision_id)
            .where(Decision.call_uid == call.uid)
        )
    )
    return Snapshot(
        office=office,
        offices=offices,
        agents=agents,
        household_id=subject.household_id,
        owner=subject.owner,
        excluded=excluded,
        tried=tried,
    )
