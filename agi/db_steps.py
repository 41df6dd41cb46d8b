"""Database steps on the call path, each with a deadline.

A caller past the decision (ringing an agent, or between two agents) must not
wait for a database that hangs: claiming the next agent, recording an attempt
and releasing a claim each run on a small pool and are waited for at most the
step's deadline. Past it the call goes on, and what the step would have done
is settled by whoever finishes last:

- a step still queued when its deadline passes never starts (`Abandoned`);
  the caller handles that as the step's failure (skip the agent, spool the
  record) at once;
- a step already running cannot be taken back: `DeadlinePassed.pending` says
  so, and its late result goes to the `if_late` callback (release an agent
  claimed too late, spool a record whose write failed), so nothing is done
  twice and nothing is lost;
- while a step is still running past its deadline the database is hung: the
  steps that follow fail at once rather than each after its own deadline, so
  a call with several agents left goes to the queue after one deadline, not
  one per agent.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from router.errors import Abandoned, DatabaseUnavailable

T = TypeVar("T")


class DeadlinePassed(DatabaseUnavailable):
    """The step did not finish in time; `pending` if it is still running (its result comes late)."""

    def __init__(self, what: str, seconds: float, *, pending: bool) -> None:
        super().__init__(f"{what}: no answer from the database within {seconds * 1000:.0f} ms")
        self.pending = pending


class _State(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    ABANDONED = "abandoned"


class DatabaseSteps:
    def __init__(self, deadline_ms: int, workers: int = 8) -> None:
        self.deadline = deadline_ms / 1000
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db-step")
        self._overdue = 0  # steps still running past their deadline
        self._overdue_lock = threading.Lock()

    def _settled(self, _future: Future[Any]) -> None:
        with self._overdue_lock:
            self._overdue -= 1

    def run(
        self,
        what: str,
        step: Callable[..., T],
        *args: Any,
        if_late: Callable[[Future[T]], None] | None = None,
        **kwargs: Any,
    ) -> T:
        """`step(*args, **kwargs)`, or DeadlinePassed once the deadline passes (at once while hung)."""
        with self._overdue_lock:
            hung = self._overdue > 0
        if hung:
            raise DeadlinePassed(what, self.deadline, pending=False)
        lock = threading.Lock()
        state = [_State.QUEUED]

        def guarded() -> T:
            with lock:
                if state[0] is _State.ABANDONED:
                    raise Abandoned(f"{what}: deadline passed before it began")
                state[0] = _State.RUNNING
            return step(*args, **kwargs)

        future = self._pool.submit(guarded)
        try:
            return future.result(timeout=self.deadline)
        except FutureTimeout:
            with lock:
                pending = state[0] is _State.RUNNING
                if not pending:
                    state[0] = _State.ABANDONED
            if pending:
                with self._overdue_lock:
                    self._overdue += 1
                future.add_done_callback(self._settled)
                if if_late is not None:
                    future.add_done_callback(if_late)
            raise DeadlinePassed(what, self.deadline, pending=pending) from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
