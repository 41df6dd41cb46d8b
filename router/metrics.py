"""Every Prometheus metric Callkeeper exports, declared once.

Names follow Prometheus practice (`callkeeper_` prefix, base units, `_total`,
`_seconds`). Labels take only bounded values — office codes, route reasons,
dial statuses — never a phone number, household or unique id; every label
value is created up front so each series exists at zero from the start.
deploy/prometheus/alerts.yml and deploy/grafana/callkeeper.json use these names.

A node of several workers (`serve --workers N`) exports them once for all:
each worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode) and the parent's `NodeMetrics` sums
them. So each gauge says how the workers' values combine: counts in
progress add up (`livesum`), the agents gauge is the same database seen by
each (`livemax`), readiness is the worst worker's (`livemin`).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client.multiprocess import MultiProcessCollector

from router import __version__
from router.routing.plan import DIAL_STATUSES, FALLBACK, OFFICE_POOL, OVERFLOW, OWNER, OWNER_BACKUP
from router.storage.models import AGENT_STATES

ROUTES = (OWNER, OWNER_BACKUP, OFFICE_POOL, OVERFLOW, FALLBACK, "failed")
ANSWERED_BY = ("owner", "covering", "pool")
OWNER_OUTCOMES = ("reached", "missed")
SESSION_RESULTS = ("answered", "noanswer", "advised", "recorded", "failed", "hangup", "rejected")
FAILOPEN_REASONS = ("database", "deadline", "error")
# Why a FastAGI connection was closed unserved: a peer outside allow_peers,
# max_calls reached, no descriptor left, or the server stopping.
REFUSED_REASONS = ("peer", "capacity", "descriptors", "stopping")
# router.routing.outcome_check.REASONS, by name here as every label value is.
OUTCOME_REFUSALS = (
    "dial_mode",
    "unknown_decision",
    "other_call",
    "not_planned",
    "recorded",
    "too_late",
)
# Offices unknown to this process (a line not configured yet) are counted here.
UNKNOWN_OFFICE = "none"
DECISION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """The metric objects of one process, on their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # The `_created` series double every counter for no use on a dashboard.
        disable_created_metrics()
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "callkeeper_decisions", "Routing decisions, by office and route.", ["office", "route"], registry=r
        )
        self.decision_duration = Histogram(
            "callkeeper_decision_duration_seconds",
            "Time to decide one call (snapshot, decision and ledger write).",
            buckets=DECISION_BUCKETS,
            registry=r,
        )
        self.attempts = Counter(
            "callkeeper_attempts",
            "Dial attempts, by office and how they ended.",
            ["office", "status"],
            registry=r,
        )
        self.answered = Counter(
            "callkeeper_calls_answered",
            "Answered calls, by who answered: the owner, a colleague covering, the pool.",
            ["office", "by"],
            registry=r,
        )
        self.owner_calls = Counter(
            "callkeeper_owner_calls",
            "Calls of known, owned households: reached means the owner answered.",
            ["office", "outcome"],
            registry=r,
        )
        self.sessions_active = Gauge(
            "callkeeper_agi_sessions_active",
            "AGI sessions in progress.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.sessions = Counter(
            "callkeeper_agi_sessions", "AGI sessions, by how they ended.", ["result"], registry=r
        )
        self.worker_sessions = Counter(
            "callkeeper_worker_sessions",
            "AGI sessions begun, by worker process of the node (serve --workers N; absent for one).",
            ["worker"],
            registry=r,
        )
        self.refused = Counter(
            "callkeeper_agi_refused",
            "FastAGI connections closed unserved (the dialplan's queue takes the call), by reason.",
            ["reason"],
            registry=r,
        )
        self.failopen = Counter(
            "callkeeper_failopen",
            "Calls handed back to the dialplan because routing failed.",
            ["reason"],
            registry=r,
        )
        self.agents = Gauge(
            "callkeeper_agents",
            "Agents by office and state.",
            ["office", "state"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.new_households = Counter(
            "callkeeper_new_households",
            "Households created by a first answered call.",
            ["office"],
            registry=r,
        )
        self.outcome_refused = Counter(
            "callkeeper_outcome_refused",
            "Outcome sessions refused (not this server's advised call, replayed, too late, dial mode).",
            ["reason"],
            registry=r,
        )
        self.ledger_spool_rejected = Counter(
            "callkeeper_ledger_spool_rejected",
            "Spooled ledger records the database refused for good, set aside with their reason.",
            registry=r,
        )
        self.ledger_spooled = Gauge(
            "callkeeper_ledger_spooled",
            "Ledger records waiting to be written to the database.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.ready = Gauge(
            "callkeeper_ready",
            "1 when the database answers within the decision deadline.",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.disputes_open = Gauge(
            "callkeeper_disputes_open",
            "Open disputes over families, by the office of the family's owner.",
            ["office"],
            registry=r,
        )
        self.dispute_oldest_age = Gauge(
            "callkeeper_dispute_oldest_age_seconds",
            "How long the oldest open dispute has been open, by office (0 with none).",
            ["office"],
            registry=r,
        )
        self.build = Info("callkeeper_build", "Version of this process.", registry=r)
        self.build.info({"version": __version__})
        for result in SESSION_RESULTS:
            self.sessions.labels(result)
        for reason in FAILOPEN_REASONS:
            self.failopen.labels(reason)
        for reason in REFUSED_REASONS:
            self.refused.labels(reason)
        for reason in OUTCOME_REFUSALS:
            self.outcome_refused.labels(reason)
        self._offices: set[str] = set()
        self.add_offices([UNKNOWN_OFFICE])

    def add_offices(self, offices: Iterable[str]) -> None:
        """Create every series of these offices at zero (offices are few and known)."""
        for office in offices:
            if office in self._offices:
                continue
            self._offices.add(office)
            for route in ROUTES:
                self.decisions.labels(office, route)
            for status in DIAL_STATUSES:
                self.attempts.labels(office, status)
            for by in ANSWERED_BY:
                self.answered.labels(office, by)
            for outcome in OWNER_OUTCOMES:
                self.owner_calls.labels(office, outcome)
            for state in AGENT_STATES:
                self.agents.labels(office, state)
            self.new_households.labels(office)
            self.disputes_open.labels(office)
            self.dispute_oldest_age.labels(office)

    def set_agents(self, counts: dict[tuple[str, str], int]) -> None:
        """Set the agents gauge from (office, state) counts; absent pairs are zero."""
        for office in self._offices:
            for state in AGENT_STATES:
                self.agents.labels(office, state).set(counts.get((office, state), 0))

    def set_disputes(self, open_by_office: dict[str, tuple[int, float]]) -> None:
        """Set the dispute gauges from office -> (open disputes, oldest one's age in seconds)."""
        for office in self._offices:
            count, oldest = open_by_office.get(office, (0, 0.0))
            self.disputes_open.labels(office).set(count)
            self.dispute_oldest_age.labels(office).set(oldest)

    def office(self, code: str | None) -> str:
        """A label value for an office: known offices by code, anything else as `none`."""
        return code if code and code in self._offices else UNKNOWN_OFFICE


class NodeMetrics:
    """The node parent's registry: every worker's metrics summed, and the parent's own.

    The workers' Info does not cross processes (prometheus-client keeps Info
    in memory only), so the parent states the build itself.
    """

    def __init__(self, multiproc_dir: str) -> None:
        disable_created_metrics()
        self.registry = CollectorRegistry()
        MultiProcessCollector(self.registry, path=multiproc_dir)
        self.worker_restarts = Counter(
            "callkeeper_worker_restarts",
            "Worker processes of this node that ended unasked and were started again.",
            registry=self.registry,
        )
        self.workers = Gauge(
            "callkeeper_workers", "Worker processes of this node running.", registry=self.registry
        )
        Info("callkeeper_build", "Version of this process.", registry=self.registry).info(
            {"version": __version__}
        )
