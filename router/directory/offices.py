"""Offices, their inbound lines, and agents: the admin side of who can take calls.

Each function works inside the caller's session and raises typed errors; the
caller commits (see `router.storage.db.Database.unit_of_work`).
"""

from __future__ import annotations

import functools

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from identity.numbers import NumberKind, normalize
from router.directory import audit
from router.errors import N_, Conflict, InvalidInput, NotFound
from router.storage.db import utcnow
from router.storage.models import DISABLED, OWNER_POLICIES, PRESENCE_STATES, STRATEGIES, Agent, Line, Office
from router.storage.views import AgentView, OfficeView


@functools.lru_cache(maxsize=1024)
def line_key(text: str, region: str) -> str:
    """How a line is stored: E.164 when it is a phone number, else its name, lower-cased.

    Cached: every call names its line, a call center has a handful, and
    parsing one as a phone number costs more than the call's lookup of it.
    """
    number = normalize(text, region)
    if number.kind is NumberKind.E164:
        return number.key
    key = text.strip().lower()
    if not key:
        raise InvalidInput("a line cannot be empty")
    return key


def get_office(session: Session, code: str) -> Office:
    office = session.scalar(select(Office).where(Office.code == code))
    if office is None:
        raise NotFound(f"no office {code!r}")
    return office


def get_agent(session: Session, login: str) -> Agent:
    agent = session.scalar(select(Agent).where(Agent.login == login))
    if agent is None:
        raise NotFound(N_("no agent %(login)r"), login=login)
    return agent


def office_for_line(session: Session, line: str, region: str) -> Office:
    """The office a call on `line` belongs to: by inbound number, else by office code."""
    office = session.scalar(select(Office).join(Line).where(Line.number == line_key(line, region)))
    if office is None:
        office = session.scalar(select(Office).where(Office.code == line.strip()))
    if office is None:
        raise NotFound(N_("no office has line %(line)r"), line=line)
    return office


def add_office(
    session: Session, code: str, *, name: str = "", lines: list[str] | None = None, region: str
) -> OfficeView:
    code = code.strip()
    if not code or not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(f"office code {code!r} must be letters, digits, - or _")
    if session.scalar(select(Office.id).where(Office.code == code)) is not None:
        raise Conflict(f"office {code!r} already exists")
    office = Office(code=code, name=name or code)
    session.add(office)
    session.flush()
    for line in lines or []:
        add_line(session, code, line, region=region)
    return office_view(session, office)


def add_line(session: Session, code: str, line: str, *, region: str) -> None:
    office = get_office(session, code)
    key = line_key(line, region)
    taken = session.scalar(select(Line).where(Line.number == key))
    if taken is not None:
        raise Conflict(f"line {key} already belongs to office {taken.office.code!r}")
    session.add(Line(number=key, office_id=office.id))
    session.flush()


def set_office(
    session: Session,
    code: str,
    *,
    name: str | None = None,
    strategy: str | None = None,
    owner_policy: str | None = None,
    owner_wait: int | None = None,
    attempt_timeout: int | None = None,
    wrapup: int | None = None,
) -> OfficeView:
    """Change an office's routing settings; `None` leaves a setting as it is."""
    office = get_office(session, code)
    if strategy is not None:
        _require(strategy, STRATEGIES, "strategy")
        office.strategy = strategy
    if owner_policy is not None:
        _require(owner_policy, OWNER_POLICIES, "owner policy")
        office.owner_policy = owner_policy
    for label, value, low in (
        ("owner wait", owner_wait, 0),
        ("attempt timeout", attempt_timeout, 1),
        ("wrap-up", wrapup, 0),
    ):
        if value is not None and not low <= value <= 3600:
            raise InvalidInput(f"{label} must be between {low} and 3600 seconds, not {value}")
    if name is not None:
        office.name = name
    if owner_wait is not None:
        office.owner_wait_seconds = owner_wait
    if attempt_timeout is not None:
        office.attempt_timeout_seconds = attempt_timeout
    if wrapup is not None:
        office.wrapup_seconds = wrapup
    session.flush()
    return office_view(session, office)


def list_offices(session: Session) -> list[OfficeView]:
    offices = session.scalars(select(Office).options(selectinload(Office.lines)).order_by(Office.code))
    return [office_view(session, o) for o in offices]


def office_view(session: Session, office: Office) -> OfficeView:
    session.refresh(office, ["lines"])
    return OfficeView(
        code=office.code,
        name=office.name,
        lines=tuple(line.number for line in office.lines),
        strategy=office.strategy,
        owner_policy=office.owner_policy,
        owner_wait_seconds=office.owner_wait_seconds,
        attempt_timeout_seconds=office.attempt_timeout_seconds,
        wrapup_seconds=office.wrapup_seconds,
    )


def add_agent(
    session: Session,
    login: str,
    *,
    office: str,
    dial: str,
    name: str = "",
    backup: str | None = None,
) -> AgentView:
    login = login.strip()
    if not login or any(c.isspace() for c in login) or "=" in login:
        raise InvalidInput(f"agent login {login!r} must be one word without '='")
    if "/" not in dial or any(c in dial for c in ",&\n"):
        raise InvalidInput(f"dial string {dial!r} must look like TECH/RESOURCE, e.g. PJSIP/101")
    if session.scalar(select(Agent.id).where(Agent.login == login)) is not None:
        raise Conflict(f"agent {login!r} already exists")
    home = get_office(session, office)
    backup_agent = get_agent(session, backup) if backup is not None else None
    agent = Agent(login=login, name=name or login, office=home, dial=dial, backup=backup_agent)
    session.add(agent)
    session.flush()
    return agent_view(agent)


def set_agent_state(session: Session, login: str, state: str) -> AgentView:
    """Presence as a supervisor sets it; a disabled agent stays disabled until an admin enables them."""
    _require(state, PRESENCE_STATES, "agent state")
    agent = get_agent(session, login)
    if agent.state == DISABLED:
        raise Conflict(
            N_("agent %(login)r is disabled; an admin enables them first (%(command)s)"),
            login=login,
            command=f"agent enable {login}",
        )
    _set_state(agent, state)
    session.flush()
    return agent_view(agent)


def disable_agent(session: Session, login: str, *, actor: str, reason: str = "") -> AgentView:
    """Never ring this agent again nor give them a family; their ledger history stays theirs.

    Their families keep them as owner until handed over (`router.directory.handover`):
    meanwhile each call follows the owner's office policy, as for an owner away.
    """
    agent = get_agent(session, login)
    if agent.state == DISABLED:
        raise Conflict(N_("agent %(login)r is already disabled"), login=login)
    before = agent.state
    _set_state(agent, DISABLED)
    audit.record(session, "disable", household=None, subject=login, before=before, reason=reason, actor=actor)
    session.flush()
    return agent_view(agent)


def enable_agent(session: Session, login: str, *, actor: str, reason: str = "") -> AgentView:
    """Take a disabled agent back, as `offline`: nobody rings them until they are made available."""
    agent = get_agent(session, login)
    if agent.state != DISABLED:
        raise Conflict(N_("agent %(login)r is not disabled"), login=login)
    _set_state(agent, "offline")
    audit.record(
        session, "enable", household=None, subject=login, after="offline", reason=reason, actor=actor
    )
    session.flush()
    return agent_view(agent)


def _set_state(agent: Agent, state: str) -> None:
    if agent.state != state:
        agent.state = state
        agent.state_changed_at = utcnow()


def set_agent_backup(session: Session, login: str, backup: str | None) -> AgentView:
    agent = get_agent(session, login)
    if backup == login:
        raise InvalidInput("an agent cannot be their own backup")
    agent.backup = get_agent(session, backup) if backup else None
    session.flush()
    return agent_view(agent)


def list_agents(session: Session, office: str | None = None) -> list[AgentView]:
    query = select(Agent).options(selectinload(Agent.office), selectinload(Agent.backup))
    if office is not None:
        query = query.where(Agent.office_id == get_office(session, office).id)
    return [agent_view(a) for a in session.scalars(query.order_by(Agent.login))]


def agent_logins(session: Session) -> list[str]:
    """Every agent's login in order: one column, for a page's choice of agent (no objects built)."""
    return list(session.scalars(select(Agent.login).order_by(Agent.login)))


def agent_view(agent: Agent) -> AgentView:
    return AgentView(
        login=agent.login,
        name=agent.name,
        office=agent.office.code,
        dial=agent.dial,
        backup=agent.backup.login if agent.backup else None,
        state=agent.state,
    )


def _require(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InvalidInput(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
