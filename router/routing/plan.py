"""The values routing works with: a call, what the database said, and the plan.

Everything here is a frozen value with no I/O, so `router.routing.decision.decide` is a
pure function of a `Call` and a `Snapshot`, and the call front, the ledger and
`callkeeper route` all speak the same words. The reason strings are what the
ledger, the JSON outputs and the metrics show; they are defined only here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from identity.numbers import CallerNumber

OWNER = "owner"
OWNER_BACKUP = "owner-backup"
OFFICE_POOL = "office-pool"
OVERFLOW = "overflow"
FALLBACK = "fallback"
REASONS = (OWNER, OWNER_BACKUP, OFFICE_POOL, OVERFLOW, FALLBACK)

# Why an agent the call could have reached is not in its plan (`decision.skipped`):
# what `callkeeper route` and the console's "why would a call go there" show.
SKIP_BUSY = "busy"  # claimed by another live call (ringing or talking)
SKIP_PAUSED = "paused"
SKIP_OFFLINE = "offline"
SKIP_WRAPUP = "wrap-up"  # resting after a call, for the office's wrap-up time
SKIP_LAPSED = "lapsed-owner"  # the owner, whose ownership this call lapses
SKIP_EXCLUDED = "excluded"  # never to be rung for this household
SKIP_TRIED = "already-rung"  # rung for this call already
SKIP_PLAN_FULL = "plan-full"  # free, but the plan had its most attempts before them
SKIP_REASONS = (
    SKIP_BUSY, SKIP_PAUSED, SKIP_OFFLINE, SKIP_WRAPUP, SKIP_LAPSED, SKIP_EXCLUDED, SKIP_TRIED, SKIP_PLAN_FULL,
)  # fmt: skip

# How a dial ended, as Asterisk's DIALSTATUS says it; HANGUP is the caller
# hanging up while the agent's phone rang.
ANSWER = "ANSWER"
DIAL_STATUSES = ("ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL", "HANGUP")


@dataclass(frozen=True, slots=True)
class Call:
    """One inbound call as the call front hands it over; `at` is the only clock decide reads."""

    uid: str
    caller: CallerNumber
    line: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PlannedAttempt:
    """One agent to ring; `wait_seconds` > 0 means: keep trying to claim a busy owner that long.

    `group` > 0: the agent rings together with the other attempts of that
    group, in one Dial of their dial strings joined by `&` (equal co-owners,
    a dispute's managers); it is the seq of the group's first attempt.
    Each keeps its own seq, claim and ledger row.
    """

    seq: int
    agent: str
    dial: str
    timeout: int
    reason: str
    wait_seconds: int = 0
    group: int = 0

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "seq": self.seq,
            "agent": self.agent,
            "dial": self.dial,
            "timeout": self.timeout,
            "reason": self.reason,
            "wait": self.wait_seconds,
        }
        if self.group:
            data["group"] = self.group
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedAttempt:
        return cls(
            seq=int(data["seq"]),
            agent=str(data["agent"]),
            dial=str(data["dial"]),
            timeout=int(data["timeout"]),
            reason=str(data["reason"]),
            wait_seconds=int(data.get("wait", 0)),
            group=int(data.get("group", 0)),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered attempts, and what the dialplan does when they run out."""

    attempts: tuple[PlannedAttempt, ...]
    then: str = FALLBACK

    @property
    def route(self) -> str:
        """The reason of the first attempt: how the call was routed, in one word."""
        return self.attempts[0].reason if self.attempts else FALLBACK

    def attempt(self, seq: int) -> PlannedAttempt | None:
        return attempt_numbered(self.attempts, seq)

    def targets(self) -> tuple[tuple[PlannedAttempt, ...], ...]:
        """The attempts as the Dials that ring them: one each, or a group's together."""
        return targets(self.attempts)


def targets(attempts: Iterable[PlannedAttempt]) -> tuple[tuple[PlannedAttempt, ...], ...]:
    """`attempts` grouped into Dials, in plan order: each alone, a group's (`group`) together."""
    found: list[list[PlannedAttempt]] = []
    for attempt in attempts:
        if attempt.group and found and found[-1][0].group == attempt.group:
            found[-1].append(attempt)
        else:
            found.append([attempt])
    return tuple(tuple(t) for t in found)


def ringing_with(attempts: Iterable[PlannedAttempt], seq: int) -> tuple[PlannedAttempt, ...]:
    """The attempts that ring in one Dial with attempt `seq` (itself included); () if none is `seq`."""
    return next((t for t in targets(attempts) if any(a.seq == seq for a in t)), ())


def joined_dial(attempts: Iterable[PlannedAttempt]) -> str:
    """One Dial's interfaces: `PJSIP/101&PJSIP/205` for agents rung together."""
    return "&".join(a.dial for a in attempts)


def attempt_numbered(attempts: Iterable[PlannedAttempt], seq: int) -> PlannedAttempt | None:
    """The attempt numbered `seq` (its own number, not its position) of a plan, stored or not."""
    return next((a for a in attempts if a.seq == seq), None)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An agent left out of a plan, and why (one of `SKIP_REASONS`)."""

    agent: str
    why: str

    def as_json(self) -> dict[str, str]:
        return {"agent": self.agent, "why": self.why}


@dataclass(frozen=True, slots=True)
class OfficeSettings:
    code: str
    strategy: str = "longest-idle"
    owner_policy: str = "backup"
    owner_wait_seconds: int = 30
    attempt_timeout_seconds: int = 20
    wrapup_seconds: int = 0


@dataclass(frozen=True, slots=True)
class AgentState:
    """An agent as the decision needs it: state, claim and the fairness inputs."""

    login: str
    office: str
    dial: str
    state: str = "available"
    state_changed_at: datetime | None = None
    backup: str | None = None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    last_call_ended_at: datetime | None = None
    last_offered_at: datetime | None = None
    calls_day: date | None = None
    calls_today: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the database said about one call, at one moment.

    `office` is the line's office; `offices` is every office, in the order
    overflow visits them; `agents` holds the owner, the owner's backup and
    every agent the plan could reach (a loader may leave out agents that
    could never be planned). `excluded` are the household's never-route
    agents, `tried` the agents already rung for this call uid.
    """

    office: str | None
    offices: tuple[OfficeSettings, ...]
    agents: tuple[AgentState, ...]
    household_id: int | None = None
    owner: str | None = None
    excluded: frozenset[str] = field(default_factory=frozenset)
    tried: frozenset[str] = field(default_factory=frozenset)
    # The household's owners besides `owner`, in order, and how they ring
    # (`ordered`: one after another; `equal`: together).
    co_owners: tuple[str, ...] = ()
    owners_mode: str = "ordered"
    # The managers of the household's open dispute: rung together, as equal co-owners are.
    contested: tuple[str, ...] = ()

    @property
    def owners(self) -> tuple[str, ...]:
        """Everyone the call rings as an owner, in order: a dispute's managers, else the owners."""
        if self.contested:
            return self.contested
        return (self.owner, *self.co_owners) if self.owner else self.co_owners

    @property
    def rings_together(self) -> bool:
        """Whether the owners ring in one Dial (a dispute, or equal co-owners) rather than in turn."""
        return bool(self.contested) or (bool(self.co_owners) and self.owners_mode == "equal")


@dataclass(frozen=True, slots=True)
class Decision:
    """A decided call as written to the ledger; `id` is the decision row (0 when only explained).

    `claimed` are the attempts (by seq) whose agents the decision already
    claimed for this call, in the same transaction that wrote it.
    """

    id: int
    call: Call
    plan: Plan
    office: str
    household_id: int | None
    owner: str | None
    decide_ms: float
    claimed: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """How one attempt ended: DIALSTATUS, when it started, ring and talk time."""

    status: str
    started_at: datetime
    ring_seconds: float
    talk_seconds: float

    @property
    def answered_at(self) -> datetime | None:
        """When the agent answered; None if they did not."""
        if self.status != ANSWER:
            return None
        return self.started_at + timedelta(seconds=self.ring_seconds)

    @property
    def ended_at(self) -> datetime | None:
        """When an answered call ended; None if nobody answered."""
        answered_at = self.answered_at
        return None if answered_at is None else answered_at + timedelta(seconds=self.talk_seconds)


@dataclass(frozen=True, slots=True)
class RecordedAttempt:
    """What recording an attempt did: who, how it ended, whom they covered, a new household."""

    agent: str
    status: str
    covering_for: str | None
    new_household_id: int | None
    # The call's office and owner when it was decided: advise mode's outcome
    # session knows only the decision id, and its metrics need both.
    office: str | None = None
    owner: str | None = None
    # Why the agent was rung (`OWNER` for a co-owner too): how an answer is counted.
    reason: str = ""
