"""One node, every core: `serve --workers N` runs N worker processes under one parent.

One Python process computes on one core at a time (the interpreter lock), so a
node uses its cores only with a process per core. Each worker is a whole call
front (`FrontEnd`) listening on the same FastAGI port with SO_REUSEPORT; the
kernel spreads connections among the listeners. Chosen over one acceptor
handing sockets to workers because nothing then sits between Asterisk and a
worker (no extra hop, no single process every call waits on), and a worker
that dies takes only its own calls with it.

What makes N > 1 right:

- claims, decisions and the ledger live in the shared database, so any
  worker may take any call, and in advise mode any outcome session: the
  outcome gate asks the database, not a worker's memory. The advised calls
  still owed an outcome are in one table the workers share
  (`agi.advised`): a stopping worker keeps listening (within the grace)
  while any call of the node owes one, and whichever worker records a
  call's last outcome crosses it off for all.
- each worker keeps its own ledger spool file (`agi.spool.spool_name`);
- the metrics: workers write prometheus-client's multiprocess files in a
  private temporary folder (PROMETHEUS_MULTIPROC_DIR, set before they start)
  and the parent serves one /metrics summing them, one /healthz and one
  /readyz for the node;
- SIGTERM (or SIGINT) to the parent is forwarded to every worker; each stops
  as a single `serve` does (no new calls, calls in progress get the grace);
  the parent exits 0 once they all have, killing any still there a little
  after the grace;
- a node killed outright (SIGKILL, nothing forwarded) leaves no orphans:
  each worker holds the read end of a pipe only the parent writes to, sees
  it close when the parent is gone, and stops as on SIGTERM;
- a worker that ends unasked is started again, with a log line and
  callkeeper_worker_restarts_total; one that exits with an error before it
  listens (a port taken, a bad setting) ends the node with its exit code,
  since another would fail the same way.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead

from agi.advised import SharedAdvisedCalls
from agi.ops_http import OpsServer
from router import health
from router.config import METRICS_OFF, Settings, address
from router.errors import ExitCode
from router.metrics import NodeMetrics
from router.storage.db import Database

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
# A worker that died is started again no sooner than this after the last start.
RESTART_PAUSE_SECONDS = 1.0
# After the grace, workers get this long to exit before they are killed.
KILL_MARGIN_SECONDS = 5.0


@dataclass
class _Worker:
    number: int
    proc: subprocess.Popen[bytes]
    started: float
    ready_pipe: int  # the worker writes a byte to it once it listens
    lifeline: int  # the parent's end of the pipe whose closing tells the worker the parent is gone
    listening: bool = False


class Node:
    def __init__(self, settings: Settings, worker_argv: list[str]) -> None:
        """`worker_argv` starts one worker; ` --worker-index I` is appended for worker I."""
        self.settings = settings
        self.count = settings.worker_count
        self.worker_argv = worker_argv
        self.db = Database(settings.db)
        self.db.ensure_schema()  # once, before the workers, so they never migrate at once
        self.metrics_dir = tempfile.mkdtemp(prefix="callkeeper-metrics-")
        self.env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
        self.metrics = NodeMetrics(self.metrics_dir)
        self.advised_table = os.path.join(self.metrics_dir, "advised-calls")
        SharedAdvisedCalls.create(self.advised_table)
        self.ops: OpsServer | None = None
        if settings.metrics.lower() not in METRICS_OFF:
            self.ops = OpsServer(address("metrics", settings.metrics), self.metrics.registry, self.not_ready)
        self.workers: dict[int, _Worker] = {}
        self._stopping = threading.Event()
        self._stop_by = 0.0

    def not_ready(self) -> str | None:
        listening = sum(1 for worker in list(self.workers.values()) if worker.listening)
        if listening < self.count:
            return f"{listening} of {self.count} workers listening"
        return health.not_ready(self.db, self.settings.decision_deadline_ms / 1000)

    def run(self) -> int:
        """Start the workers, keep them running until SIGTERM; the node's exit code."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            for number in range(self.count):
                self._start(number)
            if self.ops is not None:
                self.ops.start()
                log.info("metrics on http://%s:%d/metrics for %d workers", *self.ops.address, self.count)
            return self._supervise()
        finally:
            for worker in self.workers.values():
                if worker.proc.poll() is None:
                    worker.proc.kill()
                    worker.proc.wait()
            if self.ops is not None:
                self.ops.stop()
            self.db.dispose()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._stopping.is_set():
            return
        log.info(
            "signal %s: stopping %d workers; calls in progress get %.0f s",
            signum,
            len(self.workers),
            self.settings.stop_grace_seconds,
        )
        self._stop_by = time.monotonic() + self.settings.stop_grace_seconds + KILL_MARGIN_SECONDS
        self._stopping.set()
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)

    def _start(self, number: int) -> None:
        read, write = os.pipe()
        os.set_blocking(read, False)
        life_read, life_write = os.pipe()
        argv = [*self.worker_argv, "--worker-index", str(number), "--ready-fd", str(write)]
        argv += ["--advised-table", self.advised_table, "--lifeline-fd", str(life_read)]
        try:
            proc = subprocess.Popen(argv, env=self.env, pass_fds=(write, life_read))
        except BaseException:
            os.close(life_write)
            raise
        finally:
            os.close(write)
            os.close(life_read)
        self.workers[number] = _Worker(number, proc, time.monotonic(), read, life_write)
        self.metrics.workers.set(len(self.workers))
        log.info("worker %d started, pid %d", number, proc.pid)

    def _supervise(self) -> int:
        while True:
            for worker in list(self.workers.values()):
                code = worker.proc.poll()
                if code is None:
                    worker.listening = worker.listening or _has_written(worker.ready_pipe)
                    continue
                worker.listening = worker.listening or _has_written(worker.ready_pipe)
                _close(worker)
                del self.workers[worker.number]
                self.metrics.workers.set(len(self.workers))
                mark_process_dead(worker.proc.pid, self.metrics_dir)
                if self._stopping.is_set():
                    continue
                if code > 0 and not worker.listening:
                    log.error("worker %d could not start (exit %d); stopping the node", worker.number, code)
                    self._on_signal(signal.SIGTERM, None)
                    self._wait_all()
                    return code
                log.warning(
                    "worker %d (pid %d) ended unasked (%s); starting another",
                    worker.number,
                    worker.proc.pid,
                    _how(code),
                )
                self.metrics.worker_restarts.inc()
                pause = worker.started + RESTART_PAUSE_SECONDS - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                self._start(worker.number)
            if self._stopping.is_set():
                return self._wait_all()
            time.sleep(POLL_SECONDS)

    def _wait_all(self) -> int:
        """After SIGTERM: wait for every worker, killing those past the grace; 0 once all are gone."""
        for worker in list(self.workers.values()):
            left = max(self._stop_by - time.monotonic(), 0.0)
            try:
                worker.proc.wait(left)
            except subprocess.TimeoutExpired:
                log.warning("worker %d still running after the grace: killed", worker.number)
                worker.proc.kill()
                worker.proc.wait()
            mark_process_dead(worker.proc.pid, self.metrics_dir)
            _close(worker)
        self.workers.clear()
        log.info("stopped cleanly")
        return ExitCode.OK


def _has_written(fd: int) -> bool:
    try:
        return bool(os.read(fd, 1))
    except BlockingIOError:
        return False


def tell_listening(fd: int) -> None:
    """In a worker: tell the parent this worker listens (the parent's /readyz counts it)."""
    os.write(fd, b"1")
    os.close(fd)


def _close(worker: _Worker) -> None:
    os.close(worker.ready_pipe)
    os.close(worker.lifeline)


def watch_parent(lifeline: int) -> None:
    """In a worker: stop as on SIGTERM once the parent is gone (its end of `lifeline` closed).

    The parent never writes to the pipe, so the read returns only at its
    end: when the parent exits, however it exits.
    """

    def wait() -> None:
        while os.read(lifeline, 1):
            pass
        log.warning("the node's parent process is gone: this worker stops")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, name="parent-watch", daemon=True).start()


def _how(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"exit {code}"


def worker_argv() -> list[str]:
    """The command line that started this process, to start one worker with."""
    return [sys.executable, "-m", "router.cli.main", *sys.argv[1:]]
