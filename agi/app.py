"""The call front assembled: database, router, decider, call flow, server,
metrics, the operations endpoint, the ledger spool and housekeeping.

`serve` runs one in the foreground; tests, the demo and the benchmarks start
one on a free loopback port in a thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agi.advised import SharedAdvisedCalls
from agi.callflow import CallFlow, Decider
from agi.observe import CallObserver
from agi.ops_http import OpsServer
from agi.server import AgiServer
from agi.spool import LedgerSpool, orphaned_spools, spool_name
from router import health
from router.config import METRICS_OFF, Settings, address
from router.logs import escaped
from router.metrics import Metrics
from router.routing.service import Router
from router.storage.db import CHECKPOINT_SECONDS, Database, utcnow

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 10.0
# Live calls' claims are renewed this often, each time for CLAIM_HEARTBEAT_TTL:
# a call may talk for an hour, while a dead process frees its agents in 30 s.
CLAIM_HEARTBEAT_SECONDS = 5.0
CLAIM_HEARTBEAT_TTL = 30.0
# A decision first renews the live calls' claims if no renewal began this long ago.
CLAIM_RENEW_OVERDUE_SECONDS = 2 * CLAIM_HEARTBEAT_SECONDS


class FrontEnd:
    def __init__(
        self, settings: Settings, *, worker: int | None = None, advised_table: str | None = None
    ) -> None:
        """`worker`: this process is worker number `worker` of a node (`agi.node`): it shares
        the port, keeps its own spool file and leaves /metrics and /readyz to the parent;
        `advised_table` is the node's shared table of advised calls (`agi.advised`)."""
        self.settings = settings
        self.worker = worker
        self.db = Database(settings.db, checkpoint_seconds=CHECKPOINT_SECONDS)
        self.db.ensure_schema()
        self.metrics = None if settings.metrics.lower() in METRICS_OFF else Metrics()
        self.observer = CallObserver(self.metrics, worker)
        self.router = Router(self.db, settings)
        self.decider = Decider(self.router, settings.decision_deadline_ms, before=self.renew_if_overdue)
        self.spool = LedgerSpool(settings.spool_dir, spool_name(worker or 0))
        self.flow = CallFlow(self.router, settings, self.decider, self.spool)
        if advised_table is not None:
            self.flow.advised = SharedAdvisedCalls(advised_table)
        self.server = AgiServer(
            self.flow,
            address("listen", settings.listen),
            max_calls=settings.max_calls,
            env_timeout=settings.env_timeout_seconds,
            allow_peers=settings.allow_peers,
            on_report=self.observer,
            on_start=self.observer.session_started,
            on_end=self.observer.session_ended,
            on_refused=self.observer.refused,
            reuse_port=worker is not None,
        )
        self.ops: OpsServer | None = None
        if self.metrics is not None and worker is None:
            metrics = self.metrics
            self.ops = OpsServer(
                address("metrics", settings.metrics),
                metrics.registry,
                self.not_ready,
                lambda ready: metrics.ready.set(1 if ready else 0),
            )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._renewed_at = time.monotonic()
        self._file_problem: str | None = None
        self._renew_lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def ready(self) -> bool:
        return self.not_ready() is None

    def not_ready(self) -> str | None:
        return health.not_ready(self.db, self.settings.decision_deadline_ms / 1000)

    def housekeeping(self) -> None:
        """Replay spooled ledger records; refresh the readiness, spool and agents gauges."""
        self._check_file()
        try:
            rejected_before = self.spool.rejected
            remaining = self.spool.replay(self.router)
            if self.worker == 0:
                for name in orphaned_spools(self.settings.spool_dir, self.settings.worker_count):
                    remaining += LedgerSpool(self.settings.spool_dir, name).replay(self.router)
            if self.metrics is not None:
                self.metrics.ledger_spool_rejected.inc(self.spool.rejected - rejected_before)
                # Prometheus reads /metrics, not /readyz: keep the gauge current here.
                self.metrics.ready.set(1 if self.ready() else 0)
                self.metrics.ledger_spooled.set(remaining)
                self.metrics.add_offices(health.office_codes(self.db))
                self.metrics.set_agents(health.agent_counts(self.db))
                self.metrics.set_disputes(health.open_disputes(self.db, utcnow()))
        except Exception as exc:
            log.warning("housekeeping skipped: %s", exc)

    def start(self) -> FrontEnd:
        """Serve in background threads (tests, demo, benchmarks)."""
        self._spawn(self.server.serve_forever, "agi-accept")
        self._spawn_housekeeping()
        return self

    def serve_forever(self, listening: Callable[[], None] = lambda: None) -> None:
        """Serve in this thread until `server.stop()` (the `serve` command).

        `listening` is told once the first housekeeping round has run (the
        gauges are set) and calls are about to be accepted.
        """
        self._spawn_housekeeping()
        listening()
        self.server.serve_forever()

    def stop(self, grace: float | None = None) -> int:
        """Stop accepting, let calls finish up to `grace` seconds; returns calls cut short."""
        remaining = self.server.stop(self.settings.stop_grace_seconds if grace is None else grace)
        if remaining:
            log.warning(
                "stop grace over with %d call(s) still in progress: uid %s",
                remaining,
                " ".join(escaped(uid) for uid in self.server.calls_in_progress()),
            )
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=1)
        if self.ops is not None:
            self.ops.stop()
        self.decider.shutdown()
        self.flow.steps.shutdown()
        self.db.dispose()
        return remaining

    def _check_file(self) -> None:
        """Say once in the log when the SQLite file is no longer the one open (and when it is again)."""
        problem = self.db.file_problem()
        if problem != self._file_problem:
            if problem is not None:
                log.error("%s; /readyz answers 503 until it is back or the process restarts", problem)
            else:
                log.warning("database file is back in place")
            self._file_problem = problem

    def _spawn_housekeeping(self) -> None:
        if self.ops is not None:
            self.ops.start()
        self.housekeeping()
        self._spawn(self._housekeeping_loop, "housekeeping")
        self._spawn(self._heartbeat_loop, "claim-heartbeat")

    def _housekeeping_loop(self) -> None:
        while not self._stop.wait(HOUSEKEEPING_SECONDS):
            self.housekeeping()

    def heartbeat(self) -> None:
        """Keep the claims of this process's calls in progress from lapsing."""
        try:
            self._renew()
        except Exception as exc:
            log.warning("claim heartbeat failed (claims lapse by themselves): %s", exc)

    def renew_if_overdue(self) -> None:
        """Before a decision: if the heartbeat has not renewed in time (the database hung), renew now.

        After a hang longer than a claim's TTL the claims of calls still
        talking have lapsed; the first decision of this process after it
        renews them before it claims anyone, so it cannot hand a talking
        agent to a new call. A renewal counts from when it began: one that
        waited out the hang set a time already past.
        """
        if time.monotonic() - self._renewed_at <= CLAIM_RENEW_OVERDUE_SECONDS:
            return
        with self._renew_lock:
            if time.monotonic() - self._renewed_at > CLAIM_RENEW_OVERDUE_SECONDS:
                self._renew()

    def _renew(self) -> None:
        began = time.monotonic()
        self.router.extend_claims(self.flow.live_calls(), CLAIM_HEARTBEAT_TTL)
        self._renewed_at = max(self._renewed_at, began)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(CLAIM_HEARTBEAT_SECONDS):
            self.heartbeat()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
