"""The router as the call front uses it: decide, claim, record, release, explain.

One `Router` is shared by every call thread: it holds only the database and
the settings, and each method is one short transaction of its own (or, on
PostgreSQL, a few statements that each commit by itself), so the
state between a call's steps lives in the database (and in the ids the call
front carries), never in this object. That is also what lets advise mode
record an attempt from a different AGI session than the one that decided.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from identity.numbers import normalize
from router.config import Settings
from router.errors import Abandoned, InvalidInput, NotFound
from router.routing import claims, ledger, outcome_check, ownership, recording, snapshot
from router.routing.decision import decide, skipped
from router.routing.plan import (
    DIAL_STATUSES,
    Call,
    Decision,
    DialOutcome,
    Plan,
    PlannedAttempt,
    RecordedAttempt,
    Skipped,
)
from router.storage.db import Database, utcnow
from router.storage.models import Agent

__all__ = ["Call", "Decision", "DialOutcome", "Explanation", "Plan", "RecordedAttempt", "Router"]

log = logging.getLogger(__name__)


class Router:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def decide(
        self,
        call: Call,
        *,
        claim: int = 0,
        wait_for_owner: bool = True,
        still_wanted: Callable[[], bool] | None = None,
    ) -> Decision:
        """Decide the call, write the decision to the ledger and claim the agents of `claim` Dials.

        (Agents rung together, equal co-owners or a dispute's managers, are
        one Dial: each of them is claimed.)

        The reads, the plan, then one write: the decision's row with the
        claim of the plan's first agent (on PostgreSQL one statement that
        commits by itself, with no transaction around the reads: each is one
        statement; on SQLite one transaction). Agents are claimed in plan
        order and one that cannot be claimed is passed over; with
        `wait_for_owner`, claiming stops at a busy owner the plan says to
        wait for (the call front waits for them, and holding the agents after
        them meanwhile would keep those from other calls). Advise mode, which
        cannot wait, passes False.

        `still_wanted` is asked before the work and again before the write:
        a call that has stopped waiting (and gone to the queue) gets
        Abandoned and nothing is written, so a late decision neither holds an
        agent nor puts a call in the ledger that nobody routed, and an
        overloaded server does no work for callers already gone. (A deadline
        that passes during the write itself is the call front's to handle:
        `agi.callflow.Decider` releases what the decision claimed.)
        """
        if still_wanted is not None and not still_wanted():
            raise Abandoned(f"call {call.uid}: deadline passed before the decision began")
        started = time.perf_counter()
        with self.db.statements() as connection:
            subject, office, plan = self._plan(connection, call)
            decide_ms = (time.perf_counter() - started) * 1000
            if still_wanted is not None and not still_wanted():
                raise Abandoned(f"call {call.uid}: deadline passed while deciding; nothing written")
            first = plan.attempts[0] if claim and plan.attempts else None
            decision_id, first_won = ledger.write_decision(
                connection,
                call,
                plan,
                office=office,
                household_id=subject.household_id,
                owner_id=subject.owner_id,
                decide_ms=decide_ms,
                claim=None if first is None else ledger.FirstClaim(first.agent, self._claim_ttl(first)),
            )
            claimed = (
                self._claim_first(connection, call, plan, claim, wait_for_owner, first_won=first_won)
                if first
                else ()
            )
        log.debug("call %s decided: %s, %d attempts", call.uid, plan.route, len(plan.attempts))
        return Decision(
            id=decision_id,
            call=call,
            plan=plan,
            office=office or "",
            household_id=subject.household_id,
            owner=subject.owner,
            decide_ms=decide_ms,
            claimed=claimed,
        )

    def _plan(
        self, connection: Connection, call: Call, *, apply_lapse: bool = True, line_required: bool = False
    ) -> tuple[snapshot.Subject, str | None, Plan]:
        """Whose call it is (once a lapse of ownership that is due is applied), the office, the plan.

        `apply_lapse` False leaves a lapse that is due unwritten (`explain`);
        `line_required` makes a line no office has an error instead of the
        default office.
        """
        context = snapshot.load_context(connection, call, self.settings.region)
        offices = context.offices
        subject = self._after_lapse(connection, context.subject, call, apply=apply_lapse)
        office = (
            snapshot.require_office(offices, call.line)
            if line_required
            else snapshot.office_or_default(offices, self.settings.default_office)
        )
        agents = snapshot.load_snapshot(
            connection, call, subject, office, offices.all, call_seen=context.call_seen
        )
        return subject, office, decide(call, agents)

    def _after_lapse(
        self, connection: Connection, subject: snapshot.Subject, call: Call, *, apply: bool
    ) -> snapshot.Subject:
        """Whose call it is once an owner due to lapse is left out; `apply` writes the lapse.

        A real call applies it (`ownership.lapse_if_due`, its writes one
        transaction); `explain` only reads whether it is due
        (`ownership.lapse_due`) and writes nothing.
        """
        if subject.household_id is None:
            return subject
        days = self.settings.ownership_lapse_days
        if ownership.lapse_due(connection, subject.household_id, call.at, days) is None:
            return subject
        if apply:
            with self.db.atomically(connection):
                if not ownership.lapse_if_due(connection, subject.household_id, call.at, days):
                    return subject
        return dataclasses.replace(subject, owner_id=None, owner=None)

    def _claim_ttl(self, attempt: PlannedAttempt) -> timedelta:
        return claims.claim_ttl(attempt.timeout, attempt.wait_seconds, self.settings.claim_ttl_seconds)

    def _claim_first(
        self,
        connection: Connection,
        call: Call,
        plan: Plan,
        wanted: int,
        wait_for_owner: bool,
        *,
        first_won: bool | None = None,
    ) -> tuple[int, ...]:
        """Claim the plan's agents in order until `wanted` of its Dials have an agent won.

        A Dial of agents rung together (`PlannedAttempt.group`) counts once,
        with every one of them that could be claimed. `first_won`: whether
        the first agent was claimed already, with the decision's row
        (`ledger.write_decision`); None to claim it here.
        """
        won: list[int] = []
        dials = 0
        for target in plan.targets():
            if dials == wanted:
                break
            won_here = 0
            for attempt in target:
                if attempt is plan.attempts[0] and first_won is not None:
                    claimed = first_won
                else:
                    claimed = claims.claim(
                        connection, attempt.agent, call.uid, call.at, self._claim_ttl(attempt)
                    )
                if claimed:
                    won.append(attempt.seq)
                    won_here += 1
            if won_here:
                dials += 1
            elif len(target) == 1 and target[0].wait_seconds and wait_for_owner:
                break
        return tuple(won)

    def claim(self, decision: Decision, seq: int) -> bool:
        """Claim the agent of attempt `seq` for this call; False if they are taken or away now."""
        planned = decision.plan.attempt(seq)
        if planned is None:
            raise NotFound(f"decision {decision.id} has no attempt {seq}")
        with self.db.transaction() as connection:
            return claims.claim(
                connection, planned.agent, decision.call.uid, utcnow(), self._claim_ttl(planned)
            )

    def start(self, decision: Decision, seq: int, at: datetime) -> None:
        """Write attempt `seq` as started (UNKNOWN), just before its Dial.

        A crash during the call (kill -9, SIGKILL after the stop grace) then
        leaves the attempt in the ledger as UNKNOWN with its start time,
        instead of no trace of who was rung; `record` writes its end over it.
        One statement that commits by itself on PostgreSQL.
        """
        planned = decision.plan.attempt(seq)
        if planned is None:
            raise NotFound(f"decision {decision.id} has no attempt {seq}")
        with self.db.statements() as connection:
            ledger.write_started(connection, ledger.StoredDecision.of(decision), planned, at)

    def record(
        self,
        decision_id: int,
        seq: int,
        outcome: DialOutcome,
        decision: Decision | None = None,
        *,
        free_the_rest: bool = False,
    ) -> RecordedAttempt:
        """Write how attempt `seq` ended, end its claim, and apply ownership and fairness.

        The call front that decided passes its `decision`, which saves reading
        the row back; advise mode's outcome script, in another session, does not.
        With `free_the_rest`, the call's claims on its other agents end too:
        advise mode claimed several, and after an answer or the caller's
        hang-up the dialplan dials none of the rest.

        On PostgreSQL the usual cases are one statement that commits by
        itself (`router.routing.recording`); the others, and every case on SQLite,
        are `_record_step_by_step`'s statements, one transaction.
        """
        if outcome.status not in DIAL_STATUSES:
            raise InvalidInput(
                f"dial status must be one of {', '.join(DIAL_STATUSES)}, not {outcome.status!r}"
            )
        with self.db.statements() as connection:
            row = _stored(connection, decision_id, decision)
            planned = row.attempt(seq)
            recorded = (
                recording.record_at_once(connection, row, planned, outcome, free_the_rest=free_the_rest)
                if self.db.backend == "postgresql"
                else None
            )
            if recorded is None:
                with self.db.atomically(connection):
                    recorded = _record_step_by_step(connection, row, planned, outcome, free_the_rest)
        return RecordedAttempt(
            agent=planned.agent,
            status=outcome.status,
            covering_for=recorded.covering_for,
            new_household_id=recorded.new_household_id,
            office=row.office,
            owner=row.owner,
            reason=planned.reason,
        )

    def outcome_refusal(
        self, decision_id: int, seq: int, call_uid: str, dialed_seconds: float, *, same_pbx_only: bool = False
    ) -> str | None:
        """Why an advise-mode outcome may not be written, or None (`router.routing.outcome_check`).

        `same_pbx_only`: the session runs on another channel of the call (the
        agent's, at the answer), so only the PBX must be the call's.
        """
        with self.db.read_transaction() as connection:
            return outcome_check.refusal(
                connection,
                decision_id=decision_id,
                seq=seq,
                call_uid=call_uid,
                now=utcnow(),
                same_pbx_only=same_pbx_only,
                dialed_seconds=dialed_seconds,
                claim_cap_seconds=self.settings.claim_ttl_seconds,
            )

    def attempts(self, decision_id: int) -> tuple[PlannedAttempt, ...]:
        """The attempts a decision planned, as stored with it (advise mode's outcome reads them back)."""
        with self.db.read_transaction() as connection:
            return ledger.get_decision(connection, decision_id).attempts

    def release(self, decision_id: int, seq: int) -> None:
        """Drop this call's claim on the agent of attempt `seq` without recording anything."""
        with self.db.transaction() as connection:
            row = ledger.get_decision(connection, decision_id)
            claims.finish(connection, row.attempt(seq).agent, row.call_uid, None)

    def free_others(self, decision_id: int, seq: int) -> int:
        """The agent of attempt `seq` answered: end the call's claims on everyone else now.

        Advise mode claims several agents for one call; the dialplan tells the
        moment one answers (Dial's U() GoSub), so the others are free for the
        next call during the conversation, not after it. Returns how many.
        """
        with self.db.transaction() as connection:
            row = ledger.get_decision(connection, decision_id)
            agent_id = connection.scalar(select(Agent.id).where(Agent.login == row.attempt(seq).agent))
            if agent_id is None:
                raise NotFound(f"no agent {row.attempt(seq).agent!r}")
            return claims.release_others(connection, row.call_uid, agent_id)

    def extend_claims(self, uids: Sequence[str], seconds: float) -> int:
        """Heartbeat: the claims of these live calls hold for at least `seconds` more."""
        with self.db.transaction() as connection:
            return claims.extend(connection, uids, utcnow() + timedelta(seconds=seconds))

    def explain(self, number: str, line: str | None) -> tuple[Decision, Plan]:
        """`explain_why` without the agents left out."""
        explanation = self.explain_why(number, line)
        return explanation.decision, explanation.plan

    def explain_why(self, number: str, line: str | None) -> Explanation:
        """The decision a call from `number` on `line` would get now; claims and writes nothing.

        An unknown `line` is an error here (an admin typed it); without one the
        `default_office` setting, else the first office, stands in for it. An
        owner due to lapse is left out, as the call would leave them, but keeps
        the household: only a real call lapses it.
        """
        call = Call(
            uid=f"explain-{time.time_ns()}",
            caller=normalize(number, self.settings.region),
            line=line or "",
            at=utcnow(),
        )
        started = time.perf_counter()
        with self.db.read_transaction() as connection:
            subject, office, plan = self._plan(connection, call, apply_lapse=False, line_required=bool(line))
            # Read again for what `_plan` keeps to itself: the owner before any lapse.
            context = snapshot.load_context(connection, call, self.settings.region)
            every = snapshot.load_every_agent(connection, call, subject, office, context.offices.all)
        lapsed = context.subject.owner if context.subject.owner != subject.owner else None
        decision = Decision(
            id=0,
            call=call,
            plan=plan,
            office=office or "",
            household_id=subject.household_id,
            owner=subject.owner,
            decide_ms=(time.perf_counter() - started) * 1000,
        )
        return Explanation(decision, plan, skipped(call, every, plan, lapsed_owner=lapsed))


@dataclasses.dataclass(frozen=True, slots=True)
class Explanation:
    """What `callkeeper route` shows: the decision a call would get now, and who was left out and why."""

    decision: Decision
    plan: Plan
    skipped: tuple[Skipped, ...]


def _stored(connection: Connection, decision_id: int, decision: Decision | None) -> ledger.StoredDecision:
    """The decision's row: as the call front that decided passes it, else read back."""
    if decision is not None and decision.id == decision_id:
        return ledger.StoredDecision.of(decision)
    return ledger.get_decision(connection, decision_id)


def _record_step_by_step(
    connection: Connection,
    row: ledger.StoredDecision,
    planned: PlannedAttempt,
    outcome: DialOutcome,
    free_the_rest: bool,
) -> recording.Recorded:
    """The record's statements one after another, in the caller's transaction."""
    agent_id = claims.finish(connection, planned.agent, row.call_uid, outcome.ended_at)
    if agent_id is None:
        raise NotFound(f"no agent {planned.agent!r}")
    effect = ownership.Answered(row.household_id)
    answered_at = outcome.answered_at
    if answered_at is not None:
        effect = ownership.on_answer(
            connection, row.number, row.household_id, agent_id, planned.agent, answered_at
        )
        if effect.household_id is not None and effect.household_id != row.household_id:
            ledger.note_household(connection, row.id, effect.household_id)
    if free_the_rest:
        claims.release_others(connection, row.call_uid, agent_id)
    ledger.write_attempt(connection, row, planned, outcome, effect.covering_for_id)
    return recording.Recorded(effect.covering_for, effect.new_household_id)
