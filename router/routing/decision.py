"""Who gets a call: owner first, then backup or pool, then other offices, then the dialplan.

`decide` is pure: it reads a `Call` and a `Snapshot` and nothing else (the
time is `call.at`), so every rule is unit-tested with hand-built snapshots and
`callkeeper route` can explain a decision without placing a call.

The office whose policy applies to an unavailable owner is the owner's own
office: the owner's colleagues and backup are where the household is known.
The pool after the owner is the line's office, then the other offices by code.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from router.routing.plan import (
    OFFICE_POOL,
    OVERFLOW,
    OWNER,
    OWNER_BACKUP,
    SKIP_BUSY,
    SKIP_EXCLUDED,
    SKIP_LAPSED,
    SKIP_OFFLINE,
    SKIP_PAUSED,
    SKIP_PLAN_FULL,
    SKIP_TRIED,
    SKIP_WRAPUP,
    AgentState,
    Call,
    OfficeSettings,
    Plan,
    PlannedAttempt,
    Skipped,
    Snapshot,
)

# A caller does not wait through more rings than this; the dialplan fallback
# (an ordinary queue) takes over after.
MAX_ATTEMPTS = 12
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DEFAULT_OFFICE = OfficeSettings(code="")


def decide(call: Call, snapshot: Snapshot, rng: random.Random | None = None) -> Plan:
    """The plan of attempts for `call`; it always ends with the dialplan fallback."""
    offices = {o.code: o for o in snapshot.offices}
    agents = {a.login: a for a in snapshot.agents}
    blocked = snapshot.excluded | snapshot.tried
    # (agent, reason, wait, group key): attempts of one nonzero key ring together.
    chosen: list[tuple[AgentState, str, int, int]] = []

    owner = agents.get(snapshot.owner) if snapshot.owner else None
    if len(snapshot.owners) > 1:
        chosen.extend(_owners(call, snapshot, agents, offices, blocked))
    if owner is not None and owner.login not in blocked:
        policy = offices.get(owner.office, _DEFAULT_OFFICE)
        if _is_free(owner, call.at, policy):
            if not chosen:
                chosen.append((owner, OWNER, 0, 0))
        else:
            if policy.owner_policy == "wait" and owner.state == "available" and not snapshot.rings_together:
                chosen.append((owner, OWNER, policy.owner_wait_seconds, 0))
            if policy.owner_policy == "backup" and owner.backup:
                backup = agents.get(owner.backup)
                if (
                    backup is not None
                    and backup.login not in blocked
                    and all(backup is not agent for agent, *_ in chosen)
                    and _is_free(backup, call.at, offices.get(backup.office, _DEFAULT_OFFICE))
                ):
                    chosen.append((backup, OWNER_BACKUP, 0, 0))

    taken = blocked | {a.login for a, *_ in chosen}
    order = _office_order(snapshot.office, snapshot.offices)
    rng = rng or random.Random(call.uid)
    for office in order:
        reason = OFFICE_POOL if office.code == snapshot.office else OVERFLOW
        free = [
            a
            for a in snapshot.agents
            if a.office == office.code and a.login not in taken and _is_free(a, call.at, office)
        ]
        chosen.extend((a, reason, 0, 0) for a in _by_strategy(free, office.strategy, call, rng))
        if len(chosen) >= MAX_ATTEMPTS:
            break

    kept = chosen[:MAX_ATTEMPTS]
    firsts: dict[int, int] = {}
    for seq, (_, _, _, key) in enumerate(kept, start=1):
        firsts.setdefault(key, seq)
    together = {key for key in firsts if key and sum(1 for *_, k in kept if k == key) > 1}
    attempts = tuple(
        PlannedAttempt(
            seq=seq,
            agent=agent.login,
            dial=agent.dial,
            timeout=offices.get(agent.office, _DEFAULT_OFFICE).attempt_timeout_seconds,
            reason=reason,
            wait_seconds=wait,
            group=firsts[key] if key in together else 0,
        )
        for seq, (agent, reason, wait, key) in enumerate(kept, start=1)
    )
    return Plan(attempts=attempts)


def _owners(
    call: Call,
    snapshot: Snapshot,
    agents: dict[str, AgentState],
    offices: dict[str, OfficeSettings],
    blocked: frozenset[str],
) -> list[tuple[AgentState, str, int, int]]:
    """The owner tier of a household with several owners: those of them free to ring now.

    Ordered co-owners ring one after another, the owner first; equal
    co-owners, or a dispute's managers, all in one Dial (group key 1).
    Anyone busy, paused, offline, excluded or already rung is left out
    (`skipped` says why); the owner's own policy (wait or backup) follows.
    """
    key = 1 if snapshot.rings_together else 0
    free = []
    for login in snapshot.owners:
        agent = agents.get(login)
        if (
            agent is not None
            and login not in blocked
            and _is_free(agent, call.at, offices.get(agent.office, _DEFAULT_OFFICE))
        ):
            free.append((agent, OWNER, 0, key))
    return free


def skipped(
    call: Call, snapshot: Snapshot, plan: Plan, *, lapsed_owner: str | None = None
) -> tuple[Skipped, ...]:
    """Why each agent of `snapshot` is not in `plan`: the owner first, then by office and login.

    Pure like `decide`, and given the snapshot of every agent (the live
    router's leaves out those it could never plan). The owners (co-owners,
    a dispute's managers) come first, in order. `lapsed_owner` is the
    owner this call's lapse of ownership leaves out: listed as skipped as
    owner even when the pool then rings them. The first reason that
    applies is given: excluded, already rung, paused, offline, busy, wrap-up;
    an agent free and not planned was beyond the plan's most attempts.
    """
    offices = {o.code: o for o in snapshot.offices}
    planned = {a.agent for a in plan.attempts}
    found: list[Skipped] = []
    if lapsed_owner is not None:
        found.append(Skipped(lapsed_owner, SKIP_LAPSED))
    owners = snapshot.owners or ((snapshot.owner,) if snapshot.owner else ())
    by_login = {a.login: a for a in snapshot.agents}
    first = [by_login[login] for login in owners if login in by_login]
    rest = sorted((a for a in snapshot.agents if a.login not in owners), key=lambda a: (a.office, a.login))
    for agent in first + rest:
        if agent.login in planned or agent.login == lapsed_owner:
            continue
        found.append(Skipped(agent.login, _why_not(agent, call.at, snapshot, offices)))
    return tuple(found)


def _why_not(agent: AgentState, at: datetime, snapshot: Snapshot, offices: dict[str, OfficeSettings]) -> str:
    if agent.login in snapshot.excluded:
        return SKIP_EXCLUDED
    if agent.login in snapshot.tried:
        return SKIP_TRIED
    if agent.state == "paused":
        return SKIP_PAUSED
    if agent.state != "available":
        return SKIP_OFFLINE
    if is_busy(agent, at):
        return SKIP_BUSY
    if not _is_free(agent, at, offices.get(agent.office, _DEFAULT_OFFICE)):
        return SKIP_WRAPUP
    return SKIP_PLAN_FULL


def is_busy(agent: AgentState, at: datetime) -> bool:
    """Claimed by a call whose claim has not expired yet."""
    return agent.claimed_by is not None and agent.claim_expires_at is not None and agent.claim_expires_at > at


def _is_free(agent: AgentState, at: datetime, office: OfficeSettings) -> bool:
    """Available, not ringing for another call, and out of wrap-up."""
    if agent.state != "available" or is_busy(agent, at):
        return False
    ended = agent.last_call_ended_at
    return not (office.wrapup_seconds and ended and ended + timedelta(seconds=office.wrapup_seconds) > at)


def _office_order(line_office: str | None, offices: Iterable[OfficeSettings]) -> list[OfficeSettings]:
    """The line's office first, then the others in the snapshot's order."""
    listed = list(offices)
    return [o for o in listed if o.code == line_office] + [o for o in listed if o.code != line_office]


def _by_strategy(agents: list[AgentState], strategy: str, call: Call, rng: random.Random) -> list[AgentState]:
    if strategy == "random":
        shuffled = sorted(agents, key=lambda a: a.login)
        rng.shuffle(shuffled)
        return shuffled
    if strategy == "round-robin":
        return sorted(agents, key=lambda a: (a.last_offered_at or _EPOCH, a.login))
    if strategy == "fewest-calls":
        today = call.at.date()
        return sorted(
            agents,
            key=lambda a: (a.calls_today if a.calls_day == today else 0, _idle_since(a), a.login),
        )
    return sorted(agents, key=lambda a: (_idle_since(a), a.login))


def _idle_since(agent: AgentState) -> datetime:
    """When the agent's current wait for a call began (longest-idle rings the oldest first)."""
    return agent.last_call_ended_at or agent.state_changed_at or _EPOCH
