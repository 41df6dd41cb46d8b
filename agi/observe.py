"""What the server tells the world about each call: one log line and the metrics.

The log line never carries a full phone number (only the last four digits);
a caller hanging up is INFO, a fail-open is a WARNING.
"""

from __future__ import annotations

import logging

from agi.callflow import CallReport, Result
from router.logs import escaped
from router.metrics import Metrics
from router.routing.plan import DIAL_STATUSES

log = logging.getLogger("callkeeper.calls")

FAILED_ROUTE = "failed"
# Sessions that dialled the plan themselves. In advise mode the dialplan dials,
# and the outcome session of the call's last attempt counts it (`call_over`).
_DIALLED = (Result.ANSWERED, Result.NOANSWER, Result.HANGUP)


class CallObserver:
    def __init__(self, metrics: Metrics | None, worker: int | None = None) -> None:
        """`worker`: this process's number in a node, counted per session in callkeeper_worker_sessions."""
        self.metrics = metrics
        self.worker = None if worker is None else str(worker)
        if metrics is not None and self.worker is not None:
            metrics.worker_sessions.labels(self.worker)

    def session_started(self) -> None:
        if self.metrics:
            self.metrics.sessions_active.inc()
            if self.worker is not None:
                self.metrics.worker_sessions.labels(self.worker).inc()

    def session_ended(self) -> None:
        if self.metrics:
            self.metrics.sessions_active.dec()

    def refused(self, reason: str) -> None:
        if self.metrics:
            self.metrics.refused.labels(reason).inc()

    def __call__(self, report: CallReport) -> None:
        self._log(report)
        if self.metrics:
            self._count(self.metrics, report)

    @staticmethod
    def _log(report: CallReport) -> None:
        if report.result is Result.REJECTED:
            return
        level = logging.WARNING if report.result is Result.FAILED else logging.INFO
        log.log(
            level,
            "call uid=%s number=%s script=%s office=%s route=%s answered_by=%s result=%s%s decide_ms=%s",
            escaped(report.uid) or "-",
            report.number,
            escaped(report.script) or "-",
            report.office or "-",
            report.route or "-",
            report.answered_by or "-",
            report.result,
            f" fail_reason={report.fail_reason}" if report.fail_reason else "",
            f"{report.decide_ms:.2f}" if report.decide_ms is not None else "-",
        )

    @staticmethod
    def _count(m: Metrics, report: CallReport) -> None:
        m.sessions.labels(report.result.value).inc()
        if report.refused:
            m.outcome_refused.labels(report.refused).inc()
        office = m.office(report.office)
        if report.fail_reason is not None:
            m.failopen.labels(report.fail_reason.value).inc()
            if report.script in ("", "route"):
                m.decisions.labels(office, FAILED_ROUTE).inc()
            return
        if report.decide_ms is not None:
            m.decisions.labels(office, report.route).inc()
            m.decision_duration.observe(report.decide_ms / 1000)
        for _agent, status in report.attempts:
            if status in DIAL_STATUSES:
                m.attempts.labels(office, status).inc()
        if report.answered_as:
            m.answered.labels(office, report.answered_as).inc()
        if report.new_household:
            m.new_households.labels(office).inc()
        if report.owner is not None and (
            report.result in _DIALLED or (report.result is Result.RECORDED and report.call_over)
        ):
            outcome = "reached" if report.answered_as == "owner" else "missed"
            m.owner_calls.labels(office, outcome).inc()
