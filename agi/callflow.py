"""What one AGI session does: decide, then dial the plan (dial mode) or hand it
to the dialplan (advise mode), and record every attempt.

Failure policy, each tested by name in tests/test_callflow_*.py:
- the decision is not made within its deadline, the database is down, or a
  bug: CALLKEEPER_STATUS=FAILED at once, the dialplan goes to its queue;
- the caller hangs up: the attempt in progress is recorded as the caller's
  hang-up, its claim released, the session ends quietly;
- an attempt cannot be written to the ledger: the call goes on, the record is
  logged whole (`ledger record lost: …`) for replay;
- a database step after the decision (claim the next agent, record an
  attempt, release a claim) gets no answer within the decision's deadline:
  the call goes on (`agi.db_steps`): the agent is skipped, the record spooled.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from agi import variables as var
from agi.advised import AdvisedCalls
from agi.answered import who_answered
from agi.callid import call_id
from agi.db_steps import DatabaseSteps, DeadlinePassed
from agi.errors import AgiError, CallerHungUp
from agi.outcome_gate import OutcomeGate
from agi.protocol import AgiChannel
from agi.spool import LedgerSpool
from identity.numbers import normalize
from router.config import Settings
from router.errors import Abandoned, DatabaseUnavailable
from router.routing.plan import ANSWER, OWNER, PlannedAttempt, joined_dial
from router.routing.service import Call, Decision, DialOutcome, RecordedAttempt, Router

log = logging.getLogger(__name__)

CLAIM_RETRY_SECONDS = 1.0
HANGUP_STATUS = "HANGUP"
Pair = tuple[str, object]  # a channel variable and its value


class Result(enum.StrEnum):
    """How a session ended; the `result` label of callkeeper_agi_sessions_total."""

    ANSWERED = "answered"
    NOANSWER = "noanswer"
    ADVISED = "advised"
    RECORDED = "recorded"
    FAILED = "failed"
    HANGUP = "hangup"
    REJECTED = "rejected"


class FailReason(enum.StrEnum):
    """The `reason` label of callkeeper_failopen_total."""

    DATABASE = "database"
    DEADLINE = "deadline"
    ERROR = "error"


@dataclass
class CallReport:
    """What the server logs (one line) and counts for one session."""

    uid: str = ""
    number: str = "anonymous"
    script: str = ""
    office: str = ""
    route: str = ""
    answered_by: str = ""
    result: Result = Result.FAILED
    fail_reason: FailReason | None = None
    decide_ms: float | None = None
    owner: str | None = None
    answered_as: str = ""  # owner, covering or pool
    new_household: bool = False
    attempts: list[tuple[str, str]] = field(default_factory=list)
    spooled: int = 0
    # A database step of this call missed its deadline: the rest of the plan
    # is not claimed (each claim would cost a deadline more); the queue takes over.
    database_late: bool = False
    # Advise mode's outcome session: whether the dialplan tries no other agent
    # for this call after the attempt it recorded (for reached/missed owners).
    call_over: bool = False
    # Advise mode's outcome session refused (`agi.outcome_gate`): the reason, else "".
    refused: str = ""


class Decider:
    """Runs decisions on a small pool so a slow database cannot hold a call past its deadline."""

    def __init__(
        self,
        router: Router,
        deadline_ms: int,
        workers: int = 8,
        before: Callable[[], None] | None = None,
    ) -> None:
        """`before` runs ahead of each decision, in its worker and within its deadline."""
        self.router = router
        self.deadline = deadline_ms / 1000
        self.before = before
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decide")

    def decide(self, call: Call, claim: int, wait_for_owner: bool) -> Decision:
        """The decision, or FutureTimeout once the deadline passes.

        A decision still queued or running then is abandoned: the router
        checks before it starts and before its write, and writes nothing.
        """
        gone = threading.Event()

        def decide() -> Decision:
            if self.before is not None and not gone.is_set():
                self.before()
            return self.router.decide(
                call, claim=claim, wait_for_owner=wait_for_owner, still_wanted=lambda: not gone.is_set()
            )

        future: Future[Decision] = self._pool.submit(decide)
        try:
            return future.result(timeout=self.deadline)
        except FutureTimeout:
            gone.set()
            future.add_done_callback(self._abandon)
            raise

    def _abandon(self, future: Future[Decision]) -> None:
        """A decision committed just as its deadline passed: free whom it claimed."""
        if future.cancelled() or future.exception() is not None:
            return
        decision = future.result()
        for seq in decision.claimed:
            try:
                self.router.release(decision.id, seq)
            except Exception as exc:
                log.warning("claim release failed (it expires by itself): %s", _first_line(exc))

    def shutdown(self, wait: bool = False) -> None:
        """Drop decisions not yet started; with `wait`, let the running ones finish first."""
        self._pool.shutdown(wait=wait, cancel_futures=True)


class CallFlow:
    def __init__(
        self,
        router: Router,
        settings: Settings,
        decider: Decider,
        spool: LedgerSpool | None = None,
        clock: Callable[[], datetime] | None = None,
        steps: DatabaseSteps | None = None,
    ) -> None:
        self.router = router
        self.settings = settings
        self.outcomes = OutcomeGate(router, advise_mode=settings.mode == "advise")
        self.decider = decider
        self.spool = spool
        self.steps = steps or DatabaseSteps(settings.decision_deadline_ms)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._live: dict[str, int] = {}  # call uid -> agents it holds while ringing or talking
        self._live_lock = threading.Lock()
        # Advise mode: decisions advised here whose dialplan has not reported the
        # end yet, with when to stop waiting for it. A stopping server keeps
        # listening for their outcome sessions, or their attempts are lost.
        # Advised calls whose last outcome has not come back; a node's workers share one table.
        self.advised: AdvisedCalls = AdvisedCalls()
        self.stopping = threading.Event()

    def awaiting_outcomes(self) -> int:
        """Calls advised by this process (or by its node) whose last outcome has not come back (yet)."""
        return self.advised.count()

    def live_calls(self) -> list[str]:
        """Calls of this process holding a claim: their claims must not lapse mid-call."""
        with self._live_lock:
            return list(self._live)

    def _hold(self, uid: str, delta: int) -> None:
        with self._live_lock:
            held = self._live.get(uid, 0) + delta
            if held > 0:
                self._live[uid] = held
            else:
                self._live.pop(uid, None)

    def handle(self, channel: AgiChannel, report: CallReport) -> None:
        """Run the script Asterisk asked for; never raises but CallerHungUp."""
        report.script = channel.script or var.SCRIPT_ROUTE
        report.uid = call_id(channel.env.get("agi_uniqueid", ""), channel.peer)
        if report.script == var.SCRIPT_ROUTE and self.stopping.is_set():
            # Still listening only for advised calls' outcomes: this call goes to the queue.
            report.result = Result.REJECTED
            channel.set(var.STATUS, var.Status.FAILED)
        elif report.script == var.SCRIPT_ROUTE:
            self._route(channel, report)
        elif report.script == var.SCRIPT_OUTCOME:
            self._outcome(channel, report)
        else:
            log.warning("unknown AGI script %r from %s", report.script, report.uid)
            self._fail(channel, report, FailReason.ERROR)

    # -- route -------------------------------------------------------------------

    def _route(self, channel: AgiChannel, report: CallReport) -> None:
        caller = normalize(channel.env.get("agi_callerid"), self.settings.region)
        report.number = caller.masked()
        call = Call(uid=report.uid, caller=caller, line=self._line(channel), at=self.clock())
        started = time.perf_counter()
        try:
            advise = self.settings.mode == "advise"
            decision = self.decider.decide(
                call, self.settings.advise_targets if advise else 1, wait_for_owner=not advise
            )
        except FutureTimeout:
            self._fail(channel, report, FailReason.DEADLINE)
            return
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.warning("decision failed, failing open: %s", _first_line(exc))
            self._fail(channel, report, FailReason.DATABASE)
            return
        except Exception:
            log.exception("decision failed with a bug, failing open")
            self._fail(channel, report, FailReason.ERROR)
            return
        report.decide_ms = (time.perf_counter() - started) * 1000
        report.office, report.route = decision.office, decision.plan.route
        report.owner = decision.owner
        if self.settings.mode == "advise":
            self._advise(channel, decision, report)
        else:
            self._dial(channel, decision, report)

    def _line(self, channel: AgiChannel) -> str:
        if channel.args and channel.args[0].strip():
            return channel.args[0].strip()
        if channel.query.get(var.QUERY_LINE):
            return channel.query[var.QUERY_LINE]
        dnid = channel.env.get("agi_dnid", "")
        return "" if dnid in ("", "unknown") else dnid

    def _dial(self, channel: AgiChannel, decision: Decision, report: CallReport) -> None:
        """Ring the plan's Dials in turn: an agent alone, or agents rung together in one Dial.

        Of agents rung together, each is claimed, and one who cannot be is
        left out of the Dial (the rest still ring).
        """
        unrung = list(decision.claimed)  # claimed with the decision, released if never rung
        if unrung:
            self._hold(decision.call.uid, len(unrung))
        budget = _RingBudget(self.settings.ring_budget_seconds)
        try:
            for target in decision.plan.targets():
                if channel.hung_up or budget.spent():
                    break
                members = []
                for attempt in target:
                    if attempt.seq in unrung:
                        unrung.remove(attempt.seq)
                        members.append(attempt)
                    elif not report.database_late and self._claim(
                        decision,
                        attempt.seq,
                        budget.cap(attempt.wait_seconds) if len(target) == 1 else 0,
                        report,
                    ):
                        members.append(attempt)
                if not members:
                    continue
                try:
                    answering, outcome = self._ring(
                        channel, decision, members, report, budget.cap(max(a.timeout for a in members))
                    )
                finally:
                    self._hold(decision.call.uid, -len(members))
                if answering is not None:
                    report.answered_by = answering.agent
                    report.result = Result.ANSWERED
                    self._set_final(channel, decision, var.Status.ANSWERED)
                    return
                if outcome.status in ("CANCEL", HANGUP_STATUS):
                    break
        finally:
            for seq in unrung:
                self._hold(decision.call.uid, -1)
                self._release(decision.id, seq)
        if channel.hung_up:
            report.result = Result.HANGUP
            raise CallerHungUp("caller hung up before an agent answered")
        report.result = Result.NOANSWER
        self._set_final(channel, decision, var.Status.NOANSWER)

    def _claim(self, decision: Decision, seq: int, wait_seconds: int, report: CallReport) -> bool:
        """Claim the agent; a busy owner under the `wait` policy is retried for a while."""
        give_up = time.monotonic() + wait_seconds
        while True:
            try:
                if self.steps.run(
                    "claim", self.router.claim, decision, seq, if_late=self._late_claim(decision.id, seq)
                ):
                    self._hold(decision.call.uid, +1)
                    return True
            except (DatabaseUnavailable, SQLAlchemyError) as exc:
                log.warning("claim failed, skipping attempt %d: %s", seq, _first_line(exc))
                report.database_late = isinstance(exc, DeadlinePassed)
                return False
            if time.monotonic() + CLAIM_RETRY_SECONDS > give_up:
                return False
            time.sleep(CLAIM_RETRY_SECONDS)

    def _ring(
        self,
        channel: AgiChannel,
        decision: Decision,
        members: list[PlannedAttempt],
        report: CallReport,
        timeout: int,
    ) -> tuple[PlannedAttempt | None, DialOutcome]:
        """One Dial of `members` (their interfaces joined by `&`); who answered, and how it ended.

        Each member's attempt is recorded: the one who answered with the
        answer, the others rung with them as not answering, with the same ring
        time, their claims ended as the Dial returns.
        """
        # Ring time is measured on the call flow's clock (the demo's is its simulated day).
        started_at = self.clock()
        together = len(members) > 1
        try:
            # The started rows are written while Asterisk begins the Dial: they cost the caller no time.
            result = channel.exec_app(
                "Dial",
                f"{joined_dial(members)},{timeout}",
                meanwhile=lambda: self._start_all(decision, members, started_at),
            )
            # Ring time is this server's clock around the Dial: Asterisk's
            # DIALEDTIME is the caller channel's age, not this Dial's.
            elapsed = self._since(started_at)
            gone_before_ringing = channel.hung_up
            if together:
                status, answered_ms, peer_name, peer_number = channel.variables(
                    var.DIALSTATUS, var.ANSWEREDTIME_MS, var.DIALEDPEERNAME, var.DIALEDPEERNUMBER
                )
            else:
                status, answered_ms = channel.variables(var.DIALSTATUS, var.ANSWEREDTIME_MS)
                peer_name = peer_number = None
        except CallerHungUp:
            ring = self._since(started_at)
            for attempt in members:
                self._record(decision, attempt.seq, DialOutcome(HANGUP_STATUS, started_at, ring, 0.0), report)
            raise
        except AgiError:
            for attempt in members:
                self._release(decision.id, attempt.seq)
            raise
        if gone_before_ringing or (result == -1 and status is None):
            # The caller hung up before this Dial began: Asterisk's HANGUP line came
            # ahead of the EXEC result, or (AGISIGHUP=no) Dial on a dead channel
            # returned at once without a DIALSTATUS. The agents never rang; the
            # attempts started are recorded as the caller's hang-up (which ends their claims).
            for attempt in members:
                self._record(decision, attempt.seq, DialOutcome(HANGUP_STATUS, started_at, 0.0, 0.0), report)
            raise CallerHungUp("caller hung up before the agent rang")
        talk = _talk_seconds(status, answered_ms)
        outcome = DialOutcome(
            status or "CHANUNAVAIL", started_at, ring_seconds=max(elapsed - talk, 0.0), talk_seconds=talk
        )
        answering = self._answering(members, outcome, peer_name, peer_number)
        self._record_together(decision, members, answering, outcome, report)
        return answering, outcome

    def _answering(
        self,
        members: list[PlannedAttempt],
        outcome: DialOutcome,
        peer_name: str | None,
        peer_number: str | None,
    ) -> PlannedAttempt | None:
        """Who of `members` answered (`agi.answered`); an answer nobody can be told from is the first's."""
        if outcome.status != ANSWER:
            return None
        answering = who_answered(members, peer_name, peer_number)
        if answering is None:
            log.warning(
                "answered by %r (%r), none of %s: the answer is recorded on %s",
                peer_name,
                peer_number,
                joined_dial(members),
                members[0].agent,
            )
            return members[0]
        return answering

    def _record_together(
        self,
        decision: Decision | int,
        members: list[PlannedAttempt],
        answering: PlannedAttempt | None,
        outcome: DialOutcome,
        report: CallReport,
        *,
        free_the_rest: bool = False,
    ) -> None:
        """Record a Dial's attempts: the others rung (not answering) first, then the one who answered.

        Unanswered, every member ends as the Dial did. `free_the_rest` goes
        with the last record (see `Router.record`).
        """
        last = answering or members[-1]
        rung = _not_answered(outcome)
        for attempt in members:
            if attempt is not last:
                self._record(decision, attempt.seq, rung, report)
        self._record(
            decision, last.seq, outcome if last is answering else rung, report, free_the_rest=free_the_rest
        )

    def _since(self, then: datetime) -> float:
        """Seconds from `then` to now on this flow's clock; never negative (a clock stepped back)."""
        return max((self.clock() - then).total_seconds(), 0.0)

    def _start_all(self, decision: Decision, members: list[PlannedAttempt], started_at: datetime) -> None:
        for attempt in members:
            self._start(decision, attempt.seq, started_at)

    def _start(self, decision: Decision, seq: int, started_at: datetime) -> None:
        """The attempt's started row; if it cannot be written the call goes on (its end still will be)."""
        try:
            self.router.start(decision, seq, started_at)
        except Exception as exc:
            log.warning("attempt start not written, the Dial goes on: %s", _first_line(exc))

    def _record(
        self,
        decision: Decision | int,
        seq: int,
        outcome: DialOutcome,
        report: CallReport,
        *,
        free_the_rest: bool = False,
    ) -> None:
        """Write the attempt to the ledger; if the ledger fails, spool it and go on.

        `decision` is the one this session made, or only its id (advise mode's
        outcome script, which has to read the rest back). `free_the_rest`: see
        `Router.record`. A spooled record frees nobody: those claims lapse by
        themselves (`claim_ttl_seconds`, or the ring time and a margin).
        """
        report.attempts.append((str(seq), outcome.status))
        known, decision_id = (decision, decision.id) if isinstance(decision, Decision) else (None, decision)
        try:
            recorded = self.steps.run(
                "ledger write",
                self.router.record,
                decision_id,
                seq,
                outcome,
                known,
                free_the_rest=free_the_rest,
                if_late=self._late_record(decision_id, seq, outcome),
            )
        except DeadlinePassed as exc:
            report.database_late = True
            if exc.pending:  # the write may still commit; `_late_record` spools it if not
                log.warning("%s; the call goes on", exc)
            else:
                self._keep(decision_id, seq, outcome, exc)
            report.spooled += 1
            return
        except Exception as exc:
            self._keep(decision_id, seq, outcome, exc)
            report.spooled += 1
            return
        report.attempts[-1] = (recorded.agent, recorded.status)
        if known is None:  # the outcome script: the call's office and owner come from the ledger
            report.office, report.owner = recorded.office or report.office, recorded.owner
        if recorded.status == ANSWER:
            report.answered_as = _answered_as(recorded, report.owner)
            report.new_household = recorded.new_household_id is not None

    def _keep(self, decision_id: int, seq: int, outcome: DialOutcome, exc: BaseException) -> None:
        if self.spool is not None:
            try:
                self.spool.add(decision_id, seq, outcome)
                log.warning("ledger write failed, attempt spooled for replay: %s", _first_line(exc))
                return
            except OSError as spool_error:
                log.error("ledger spool failed too: %s", spool_error)
        log.error(
            "ledger record lost: decision=%s seq=%s status=%s started_at=%s ring=%.1f talk=%.1f (%s)",
            decision_id,
            seq,
            outcome.status,
            outcome.started_at.isoformat(),
            outcome.ring_seconds,
            outcome.talk_seconds,
            _first_line(exc),
        )

    def _late_claim(self, decision_id: int, seq: int) -> Callable[[Future[bool]], None]:
        """A claim that committed after its deadline: the call has moved on, free the agent."""

        def settle(future: Future[bool]) -> None:
            if future.exception() is None and future.result():
                self._release(decision_id, seq)

        return settle

    def _late_record(self, decision_id: int, seq: int, outcome: DialOutcome) -> Callable[[Future[Any]], None]:
        """A ledger write that failed after its deadline: spool it as one that failed in time."""

        def settle(future: Future[Any]) -> None:
            exc = future.exception()
            if exc is not None and not isinstance(exc, Abandoned):
                self._keep(decision_id, seq, outcome, exc)

        return settle

    def _release(self, decision_id: int, seq: int) -> None:
        try:
            self.steps.run("claim release", self.router.release, decision_id, seq)
        except Exception as exc:
            log.warning("claim release failed (it expires by itself): %s", _first_line(exc))

    # -- advise ------------------------------------------------------------------

    def _advise(self, channel: AgiChannel, decision: Decision, report: CallReport) -> None:
        """Hand the dialplan the agents claimed with the decision, in plan order.

        If the peer hangs up or stops answering before the last variable, the
        dialplan dials none of them: their claims are released at once.
        """
        try:
            n, rings, left = 0, 0, self.settings.ring_budget_seconds or None
            given: list[Pair] = []
            for target in decision.plan.targets():
                members = [a for a in target if a.seq in decision.claimed]
                if not members:
                    continue
                if left is not None and left <= 0:  # the ring budget is spent: not given, freed
                    for attempt in members:
                        self._release(decision.id, attempt.seq)
                    continue
                longest = max(a.timeout for a in members)
                timeout = longest if left is None else min(longest, left)
                left = None if left is None else left - timeout
                n, rings = n + 1, rings + timeout
                # Agents rung together: one target `PJSIP/101&PJSIP/205`, their seqs `1&2`.
                given += [(var.target(n), joined_dial(members)), (var.timeout(n), timeout)]
                given.append((f"{var.AGENT}_{n}", "&".join(str(a.seq) for a in members)))
            given.append((var.COUNT, n))
            report.result = Result.ADVISED
            self._set_final(channel, decision, var.Status.ADVISED, given)
        except AgiError:
            for seq in decision.claimed:
                self._release(decision.id, seq)
            raise
        if n:
            self.advised.add(decision.id, time.monotonic() + rings + self.settings.claim_ttl_seconds)

    def _outcome(self, channel: AgiChannel, report: CallReport) -> None:
        """agi://…/outcome,DECISION,N: record what the dialplan's Dial of target N did.

        When the dialplan dials no more targets after this one (an answer, the
        caller gone), the call's other advised agents are freed in the same
        transaction.
        """
        args = channel.args
        report.number = normalize(channel.env.get("agi_callerid"), self.settings.region).masked()
        if len(args) < 2 or not args[0].isdigit() or not args[1].isdigit():
            log.warning("outcome script needs DECISION,N arguments, got %r", args)
            self._fail(channel, report, FailReason.ERROR)
            return
        if len(args) > 2 and args[2] == var.OUTCOME_ANSWERED:
            self._answered(channel, report, int(args[0]), args[1])
            return
        seq_text, status_text, answered_ms, dial_at, now, count_text = channel.variables(
            f"{var.AGENT}_{args[1]}",
            var.DIALSTATUS,
            var.ANSWEREDTIME_MS,
            var.DIAL_STARTED,
            var.NOW,
            var.COUNT,
        )
        decision_id, seqs = int(args[0]), _seqs(seq_text)
        seq = seqs[0] if seqs else 0
        status = status_text or "CHANUNAVAIL"
        # The dialplan dials no more targets after this one: an answer, the
        # caller gone, or the last target (the call goes to the queue).
        report.call_over = (
            status in (ANSWER, "CANCEL", HANGUP_STATUS)
            or not (count_text or "").isdigit()
            or int(args[1]) >= int(count_text or 0)
        )
        # How long the Dial took, on Asterisk's clock (both ends read there), so
        # the attempt is stamped from when it began, not from now, the call's end.
        elapsed = max(_seconds(now) - _seconds(dial_at), 0.0) if dial_at and now else None
        report.refused = self.outcomes.refusal(report.uid, decision_id, seq, elapsed or 0.0) or ""
        if report.refused:
            report.result = Result.REJECTED
            if status == ANSWER:
                channel.set(var.STATUS, var.Status.ANSWERED)
            return
        talk = _talk_seconds(status, answered_ms)
        took = talk if elapsed is None else max(elapsed, talk)
        outcome = DialOutcome(
            status=status,
            started_at=self.clock() - timedelta(seconds=took),
            ring_seconds=took - talk,
            talk_seconds=talk,
        )
        if len(seqs) > 1:
            self._record_advised_together(channel, decision_id, seqs, outcome, report)
        else:
            self._record(decision_id, seq, outcome, report, free_the_rest=report.call_over)
        if report.call_over:
            self.advised.discard(decision_id)
        report.result = Result.RECORDED
        if status == ANSWER:
            channel.set(var.STATUS, var.Status.ANSWERED)

    def _record_advised_together(
        self, channel: AgiChannel, decision_id: int, seqs: list[int], outcome: DialOutcome, report: CallReport
    ) -> None:
        """The outcome of a target of agents rung together: who answered, from Dial's DIALEDPEERNAME."""
        peer_name, peer_number = (
            channel.variables(var.DIALEDPEERNAME, var.DIALEDPEERNUMBER)
            if outcome.status == ANSWER
            else (None, None)
        )
        try:
            members = self._members(decision_id, seqs)
        except Exception as exc:  # the plan cannot be read: each is kept for replay as the Dial ended
            log.warning("the agents rung together could not be read back: %s", _first_line(exc))
            for seq in seqs:
                self._keep(decision_id, seq, outcome if seq == seqs[0] else _not_answered(outcome), exc)
            return
        answering = self._answering(members, outcome, peer_name, peer_number)
        self._record_together(
            decision_id, members, answering, outcome, report, free_the_rest=report.call_over
        )

    def _members(self, decision_id: int, seqs: list[int]) -> list[PlannedAttempt]:
        """The planned attempts `seqs` of a decision, read back (the outcome session has only its id)."""
        planned = self.steps.run("plan read", self.router.attempts, decision_id)
        return [a for a in planned if a.seq in seqs]

    def _answered(self, channel: AgiChannel, report: CallReport, decision_id: int, n: str) -> None:
        """agi://…/outcome,DECISION,N,answered from Dial's U(): target N just answered.

        The call's other advised agents are freed now; the attempt itself is
        recorded, with its talk time, when the Dial ends.
        """
        seqs = _seqs(channel.variable(f"{var.AGENT}_{n}"))
        report.result = Result.RECORDED
        if not seqs:
            log.warning("answered outcome without %s_%s", var.AGENT, n)
            return
        # It frees agents: only for this server's advised call, from its PBX, and a planned attempt.
        # It runs on the agent's channel, whose unique id is not the caller's.
        seq = seqs[0]
        report.refused = self.outcomes.refusal(report.uid, decision_id, seq, 0.0, same_pbx_only=True) or ""
        if report.refused:
            report.result = Result.REJECTED
            return
        try:
            if len(seqs) > 1:
                # Agents rung together: this session runs on the channel that answered.
                answering = who_answered(
                    self._members(decision_id, seqs), channel.env.get(var.AGI_CHANNEL), None
                )
                if answering is None:
                    log.warning(
                        "answered on %r, not one of the target's agents", channel.env.get(var.AGI_CHANNEL)
                    )
                    return
                seq = answering.seq
            self.router.free_others(decision_id, seq)
        except Exception as exc:
            log.warning(
                "freeing the other advised agents failed (they expire by themselves): %s", _first_line(exc)
            )

    # -- endings -----------------------------------------------------------------

    def _set_final(
        self, channel: AgiChannel, decision: Decision, status: var.Status, before: Sequence[Pair] = ()
    ) -> None:
        """The variables the dialplan reads after AGI() (`before` ahead of them), in one round trip
        where it can be (`AgiChannel.set_many`); set last, so nothing delays the first Dial."""
        channel.set_many(
            [*before, (var.DECISION, decision.id), (var.ROUTE, decision.plan.route), (var.STATUS, status)]
        )

    def _fail(self, channel: AgiChannel, report: CallReport, reason: FailReason) -> None:
        report.result = Result.FAILED
        report.fail_reason = reason
        channel.set(var.STATUS, var.Status.FAILED)


class _RingBudget:
    """Dial mode's whole-call ring budget (`ring_budget_seconds`, 0: none), on this server's clock."""

    def __init__(self, seconds: int) -> None:
        self.until = time.monotonic() + seconds if seconds > 0 else None

    def spent(self) -> bool:
        return self.until is not None and self.until - time.monotonic() < 1

    def cap(self, seconds: int) -> int:
        """`seconds`, or what is left of the budget if that is less (whole seconds, at least 1)."""
        if self.until is None or seconds <= 0:
            return seconds
        return max(min(seconds, math.ceil(self.until - time.monotonic())), 1)


def _answered_as(recorded: RecordedAttempt, owner: str | None) -> str:
    """How an answer counts: covering for the owner, by an owner (a co-owner too), or by the pool."""
    if recorded.covering_for:
        return "covering"
    is_owner = (owner is not None and recorded.agent == owner) or recorded.reason == OWNER
    return "owner" if is_owner else "pool"


def _seqs(text: str | None) -> list[int]:
    """The attempt numbers of CALLKEEPER_AGENT_n: `3`, or `1&2` for agents rung together."""
    parts = (text or "").split("&")
    return [int(p) for p in parts] if all(p.isdigit() for p in parts) else []


def _not_answered(outcome: DialOutcome) -> DialOutcome:
    """How an agent rung with others ended when another answered, or when the Dial did."""
    status = "NOANSWER" if outcome.status == ANSWER else outcome.status
    return DialOutcome(status, outcome.started_at, ring_seconds=outcome.ring_seconds, talk_seconds=0.0)


def _talk_seconds(status: str | None, answered_ms: str | None) -> float:
    """Talk time of an answered Dial: ANSWEREDTIME_MS (0 unanswered: Asterisk leaves it empty).

    ANSWEREDTIME is whole seconds; both are the caller channel's up time, so
    the shipped dialplan must not answer the caller before the Dial (see the
    README: a greeting in front adds its length to the first answered attempt).
    """
    return _seconds(answered_ms) / 1000 if status == ANSWER else 0.0


def _seconds(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
