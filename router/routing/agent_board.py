"""The agents board: each agent's live state and today's calls, for a supervisor.

"Today" is the agency's local day (the `timezone` setting), and a call
belongs to the day it was decided. Three statements whatever the number of
agents: the agents with their office's wrap-up time; today's attempts per
agent, through today's decisions (`ix_decisions_at`); today's calls of
owned households per owner, grouped in the database.

The owner hit rate of an agent counts today's calls from households this
agent owned when the call was decided, and the share of them this agent
answered. Those calls are told apart by whether the owner was free when the
call came (the router put them first: route `owner`):

- `owner_free_answered`: the owner was free and got the call (a hit);
- `owner_free_missed`: the owner was free and rung, but did not answer (a
  colleague answered after, or nobody did);
- `owner_away_covered`: the owner was busy, paused, offline or in wrap-up, and
  a colleague answered (covering for them);
- `owner_away_unanswered`: the owner was away and nobody answered.

`hit_rate` is the owner's answers over all owned calls (an owner away who
still answered, rung again later in the same call, counts as an answer); `free_hit_rate` only over
the calls that came while the owner was free, which is what the owner could
do something about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from router.dates import local_day
from router.routing.plan import ANSWER, OWNER
from router.storage.models import Agent, Attempt, Decision, Office

ON_CALL = "on-call"
WRAP_UP = "wrap-up"
LIVE_STATES = ("available", "paused", "offline", ON_CALL, WRAP_UP)


@dataclass(frozen=True, slots=True)
class AgentOnBoard:
    login: str
    name: str
    office: str
    state: str  # as set: available, paused or offline
    live: str  # one of LIVE_STATES
    calls_today: int  # calls that rang this agent
    answered_today: int
    owned_calls: int
    owner_answered: int
    owner_free_answered: int
    owner_free_missed: int
    owner_away_covered: int
    owner_away_unanswered: int

    @property
    def hit_rate(self) -> float | None:
        """Of today's calls from this agent's households, the share this agent answered."""
        return self.owner_answered / self.owned_calls if self.owned_calls else None

    @property
    def free_hit_rate(self) -> float | None:
        """The same, only over the calls that came while this agent was free."""
        free = self.owner_free_answered + self.owner_free_missed
        return self.owner_free_answered / free if free else None

    def as_json(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "name": self.name,
            "office": self.office,
            "state": self.state,
            "live": self.live,
            "calls_today": self.calls_today,
            "answered_today": self.answered_today,
            "owned_calls": self.owned_calls,
            "owner_answered": self.owner_answered,
            "owner_free_answered": self.owner_free_answered,
            "owner_free_missed": self.owner_free_missed,
            "owner_away_covered": self.owner_away_covered,
            "owner_away_unanswered": self.owner_away_unanswered,
            "owner_hit_rate": _rounded(self.hit_rate),
            "owner_free_hit_rate": _rounded(self.free_hit_rate),
        }


@dataclass(frozen=True, slots=True)
class DayCounts:
    """Today's counts per agent id, read in two grouped statements over today's decisions.

    Apart from the agents' states so that a console may reuse them for a
    second or two between refreshes (the costly part), while states are read
    live every time.
    """

    start: datetime
    end: datetime
    rung: dict[int, tuple[int, int]]  # agent id: (calls that rang them, answered)
    owned: dict[int, dict[tuple[bool, str], int]]  # owner id: (owner free, who answered): calls


def day_counts(session: Session, *, now: datetime, zone: tzinfo) -> DayCounts:
    """The counts of the agency's day that holds `now`."""
    start, end = local_day(now, zone)
    today = and_(Decision.at >= start, Decision.at < end)
    rung: dict[int, tuple[int, int]] = {
        agent_id: (calls, answered)
        for agent_id, calls, answered in session.execute(
            select(
                Attempt.agent_id,
                func.count(func.distinct(Attempt.decision_id)),
                func.count(case((Attempt.status == ANSWER, 1))),
            )
            .join(Decision, Decision.id == Attempt.decision_id)
            .where(today, Attempt.agent_id.is_not(None))
            .group_by(Attempt.agent_id)
        )
        if agent_id is not None
    }
    return DayCounts(start, end, rung, _owned_calls(session, today))


def board(
    session: Session, *, now: datetime, zone: tzinfo, counts: DayCounts | None = None
) -> list[AgentOnBoard]:
    """Every agent, by office and login, as of `now`, counting the agency's day that holds `now`.

    `counts` are today's counts read before (by `day_counts`); they are read
    now when not given, or when they belong to another day than `now`'s.
    """
    if counts is None or not counts.start <= now < counts.end:
        counts = day_counts(session, now=now, zone=zone)
    rows = session.execute(
        select(
            Agent.id,
            Agent.login,
            Agent.name,
            Agent.state,
            Agent.claimed_by,
            Agent.claim_expires_at,
            Agent.last_call_ended_at,
            Office.code,
            Office.wrapup_seconds,
        )
        .join(Office, Office.id == Agent.office_id)
        .order_by(Office.code, Agent.login)
    )
    listed = []
    # Plain rows, not ORM objects: the board of 500 agents is refreshed every few seconds.
    for agent in rows:
        calls, answered = counts.rung.get(agent.id, (0, 0))
        owned = counts.owned.get(agent.id, {})
        listed.append(
            AgentOnBoard(
                login=agent.login,
                name=agent.name,
                office=agent.code,
                state=agent.state,
                live=_live(
                    agent.state,
                    agent.claimed_by,
                    agent.claim_expires_at,
                    agent.last_call_ended_at,
                    agent.wrapup_seconds,
                    now,
                ),
                calls_today=calls,
                answered_today=answered,
                owned_calls=sum(owned.values()),
                owner_answered=owned.get((True, "owner"), 0) + owned.get((False, "owner"), 0),
                owner_free_answered=owned.get((True, "owner"), 0),
                owner_free_missed=owned.get((True, "other"), 0) + owned.get((True, "none"), 0),
                owner_away_covered=owned.get((False, "other"), 0),
                owner_away_unanswered=owned.get((False, "none"), 0),
            )
        )
    return listed


def _owned_calls(session: Session, today: Any) -> dict[int, dict[tuple[bool, str], int]]:
    """Today's calls of owned households per owner, by (owner free, who answered: owner/other/none)."""
    answer = aliased(Attempt)
    answered_by = case(
        (answer.agent_id.is_(None), "none"), (answer.agent_id == Decision.owner_id, "owner"), else_="other"
    )
    free = Decision.route == OWNER
    found: dict[int, dict[tuple[bool, str], int]] = {}
    query = (
        select(Decision.owner_id, free, answered_by, func.count())
        .outerjoin(answer, and_(answer.decision_id == Decision.id, answer.status == ANSWER))
        .where(today, Decision.owner_id.is_not(None))
        .group_by(Decision.owner_id, free, answered_by)
    )
    for owner_id, was_free, who, count in session.execute(query):
        found.setdefault(owner_id, {})[(bool(was_free), str(who))] = int(count)
    return found


def _live(
    state: str,
    claimed_by: str | None,
    claim_expires_at: datetime | None,
    ended: datetime | None,
    wrapup_seconds: int,
    now: datetime,
) -> str:
    """On a call (claimed by a live call) first, then the state as set, then wrap-up after a call."""
    if claimed_by is not None and claim_expires_at is not None and claim_expires_at > now:
        return ON_CALL
    if state != "available":
        return state
    if wrapup_seconds and ended is not None and ended + timedelta(seconds=wrapup_seconds) > now:
        return WRAP_UP
    return "available"


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)
